package org.rpctls.sys;

import java.util.concurrent.TimeoutException;
import org.rpctls.ffi.LibC;

/**
 * Waits for readiness of raw descriptors on behalf of many threads.
 *
 * <p>Why: a handshake runs on a virtual thread, but a virtual thread that blocks inside a
 * native call pins its carrier, and there are only as many carriers as CPUs. So handshakes
 * never block in native code: OpenSSL runs on non-blocking sockets, and when it wants to read
 * or write, the virtual thread parks here (unmounting) while one platform thread watches all
 * waiting descriptors. A stalled peer then costs a table entry, not a carrier.
 *
 * <p>Two implementations: {@link EpollPoller} on Linux (a waiter registers its descriptor
 * itself, the loop only reports readiness) and {@link PollPoller}, poll(2), everywhere else.
 * {@code -Drpctls.poller=poll} selects poll(2) on Linux too.
 */
public sealed interface FdPoller extends AutoCloseable permits EpollPoller, PollPoller {

    /** The process-wide poller, started on first use. */
    static FdPoller shared() {
        return Shared.POLLER;
    }

    /** Which implementation {@link #shared()} uses here: "epoll" or "poll". */
    static String sharedKind() {
        return Shared.POLLER instanceof EpollPoller ? "epoll" : "poll";
    }

    /**
     * Parks the calling thread until {@code fd} is ready for {@code events} (POLLIN/POLLOUT) or
     * reports an error or hang-up; returns the poll revents.
     *
     * @throws TimeoutException when {@code deadlineNanos} (System.nanoTime) passes first
     */
    short await(int fd, short events, long deadlineNanos) throws TimeoutException, InterruptedException;

    @Override
    void close();

    /**
     * poll(2) on {@code fd} alone with no wait: its revents now, 0 if not ready. The pollers try
     * this first, so a descriptor that is already ready (a HANDLERECORD upcall comes when the
     * kernel has a record queued) costs one system call instead of a round trip through the
     * poller thread.
     */
    static short readyNow(int fd, short events) {
        return readyWithin(fd, events, 0);
    }

    /**
     * poll(2) on {@code fd} alone, blocking the calling thread up to {@code millis} (a virtual
     * thread pins its carrier meanwhile): its revents, 0 if not ready in time or interrupted by a
     * signal.
     */
    static short readyWithin(int fd, short events, int millis) {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment pfd = arena.allocate(LibC.POLLFD);
            pfd.set(java.lang.foreign.ValueLayout.JAVA_INT, 0, fd);
            pfd.set(java.lang.foreign.ValueLayout.JAVA_SHORT, 4, events);
            int n = LibC.poll(pfd, 1, millis);
            return n == 1 ? pfd.get(java.lang.foreign.ValueLayout.JAVA_SHORT, 6) : 0;
        }
    }

    /** Holder: the shared poller is made on first use, not when the interface is loaded. */
    final class Shared {
        private Shared() {}

        static final FdPoller POLLER = create("rpctls-poller");

        static FdPoller create(String name) {
            boolean epoll = !LibC.FREEBSD && !"poll".equals(System.getProperty("rpctls.poller"));
            return epoll ? new EpollPoller(name) : new PollPoller(name);
        }
    }
}
