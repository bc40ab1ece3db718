package org.rpctls.sys;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.SystemCallException;

/**
 * The Linux {@link FdPoller}: one epoll instance, one platform thread in epoll_wait.
 *
 * <p>A waiter registers its own descriptor (EPOLL_CTL_ADD, EPOLLONESHOT, a token in the event's
 * data) and parks until its deadline; the loop thread only maps ready tokens back to waiters
 * and unparks them. Unlike {@link PollPoller}, registering costs no wake-up of the loop thread
 * and a round costs O(ready descriptors), not O(waiters): the handshake storm profile showed
 * the poll loop's wake-ups and table rebuilds at about a tenth of the daemon's CPU. Deadlines
 * are the waiters' own (parkNanos), so the loop never computes timeouts.
 *
 * <p>The registration is removed (EPOLL_CTL_DEL) when the wait ends, however it ends: the
 * descriptor is often a duplicate of a socket the kernel keeps open, and epoll drops an entry
 * only when the last reference to the open file goes, not when our descriptor is closed.
 * Should epoll refuse a descriptor (EEXIST: another thread is waiting on the same one; EPERM:
 * not pollable by epoll), the wait goes to a {@link PollPoller} instead.
 */
public final class EpollPoller implements FdPoller {
    /** The token of the wake-up pipe (close). */
    private static final long WAKE = 0;

    private static final class Waiter {
        final Thread thread = Thread.currentThread();
        volatile short revents; // 0 until the loop reports readiness
    }

    private final int epfd;
    private final int wakeRead;
    private final int wakeWrite;
    private final ConcurrentHashMap<Long, Waiter> waiting = new ConcurrentHashMap<>();
    private final AtomicLong tokens = new AtomicLong(WAKE);
    private final Thread thread;
    private final String name;
    private volatile PollPoller fallback;
    private final AtomicLong fallbacks = new AtomicLong();
    private volatile boolean closed;

    public EpollPoller(String name) {
        this.name = name;
        epfd = LibC.epoll_create1(LibC.EPOLL_CLOEXEC);
        if (epfd < 0) throw new IllegalStateException(SystemCallException.lastError("epoll_create1").getMessage());
        int[] wake;
        try {
            wake = PollerThreads.wakePipe();
        } catch (IllegalStateException e) {
            LibC.close(epfd);
            throw e;
        }
        wakeRead = wake[0];
        wakeWrite = wake[1];
        try (Arena arena = Arena.ofConfined()) {
            if (LibC.epoll_ctl(epfd, LibC.EPOLL_CTL_ADD, wakeRead, event(arena, LibC.POLLIN, WAKE)) != 0) {
                var e = SystemCallException.lastError("epoll_ctl(wake pipe)");
                LibC.close(epfd);
                LibC.close(wakeRead);
                LibC.close(wakeWrite);
                throw new IllegalStateException(e.getMessage());
            }
        }
        thread = PollerThreads.start(name, this::run);
    }

    private static MemorySegment event(Arena arena, int events, long token) {
        MemorySegment ev = arena.allocate(LibC.EPOLL_EVENT_SIZE, 8);
        ev.set(JAVA_INT_UNALIGNED, 0, events);
        ev.set(JAVA_LONG_UNALIGNED, LibC.EPOLL_EVENT_DATA, token);
        return ev;
    }

    @Override
    public short await(int fd, short events, long deadlineNanos) throws TimeoutException, InterruptedException {
        if (closed) throw new IllegalStateException("poller closed");
        short now = FdPoller.readyNow(fd, events);
        if (now != 0) return now;
        long token = tokens.incrementAndGet();
        Waiter w = new Waiter();
        waiting.put(token, w);
        int added;
        int errno;
        try (Arena arena = Arena.ofConfined()) {
            added = LibC.epoll_ctl(epfd, LibC.EPOLL_CTL_ADD, fd, event(arena, events | LibC.EPOLLONESHOT, token));
            errno = added == 0 ? 0 : LibC.errno();
        }
        if (added != 0) {
            waiting.remove(token);
            if (errno == LibC.EBADF) return LibC.POLLNVAL; // as poll(2) reports it
            fallbacks.incrementAndGet();
            return fallback().await(fd, events, deadlineNanos);
        }
        try {
            while (true) {
                short r = w.revents;
                if (r != 0) return r;
                if (Thread.interrupted()) throw new InterruptedException();
                if (closed) throw new IllegalStateException("poller closed");
                long left = deadlineNanos - System.nanoTime();
                if (left <= 0) {
                    if (waiting.remove(token) != null) throw new TimeoutException("deadline passed");
                    // the loop took the waiter just now: its readiness is on the way
                    while (w.revents == 0) Thread.onSpinWait();
                    return w.revents;
                }
                LockSupport.parkNanos(this, left);
            }
        } finally {
            waiting.remove(token);
            // ENOENT/EBADF are fine: nothing is left registered then
            LibC.epoll_ctl(epfd, LibC.EPOLL_CTL_DEL, fd, MemorySegment.NULL);
        }
    }

    /** How many waits epoll refused and {@link PollPoller} served (tests: a registration left behind shows here). */
    public long fallbacks() {
        return fallbacks.get();
    }

    private PollPoller fallback() {
        PollPoller p = fallback;
        if (p == null) {
            synchronized (this) {
                p = fallback;
                if (p == null) fallback = p = new PollPoller(name + "-poll");
            }
        }
        return p;
    }

    private void run() {
        final int max = 256;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment events = arena.allocate(LibC.EPOLL_EVENT_SIZE * max, 8);
            MemorySegment drain = arena.allocate(64);
            while (!closed) {
                int n = LibC.epoll_wait(epfd, events, max, -1);
                if (n < 0) {
                    if (LibC.errno() == LibC.EINTR) continue;
                    throw new IllegalStateException(SystemCallException.lastError("epoll_wait").getMessage());
                }
                for (int i = 0; i < n; i++) {
                    long off = i * LibC.EPOLL_EVENT_SIZE;
                    int revents = events.get(JAVA_INT_UNALIGNED, off);
                    long token = events.get(JAVA_LONG_UNALIGNED, off + LibC.EPOLL_EVENT_DATA);
                    if (token == WAKE) {
                        while (LibC.read(wakeRead, drain, drain.byteSize()) > 0) { /* drain */ }
                        continue;
                    }
                    Waiter w = waiting.remove(token);
                    if (w == null) continue; // timed out meanwhile; it removes its registration itself
                    // EPOLLIN/OUT/ERR/HUP have poll's values; never report 0 (it means "not yet")
                    short r = (short) (revents & 0xffff);
                    w.revents = r != 0 ? r : LibC.POLLERR;
                    LockSupport.unpark(w.thread);
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        try (Arena arena = Arena.ofConfined()) {
            LibC.write(wakeWrite, arena.allocate(1), 1);
        }
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Waiter w : waiting.values()) LockSupport.unpark(w.thread);
        PollPoller p = fallback;
        if (p != null) p.close();
        LibC.close(epfd);
        LibC.close(wakeRead);
        LibC.close(wakeWrite);
    }
}
