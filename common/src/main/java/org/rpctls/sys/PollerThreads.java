package org.rpctls.sys;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.SystemCallException;

/** What both pollers need: a non-blocking wake-up pipe and a loop thread that says why it died. */
final class PollerThreads {
    private PollerThreads() {}

    /** A pipe, both ends non-blocking and close-on-exec: {read, write}. */
    static int[] wakePipe() {
        int[] fds = new int[2];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pair = arena.allocate(JAVA_INT, 2);
            if (LibC.pipe(pair) != 0) throw new IllegalStateException(SystemCallException.lastError("pipe").getMessage());
            fds[0] = pair.getAtIndex(JAVA_INT, 0);
            fds[1] = pair.getAtIndex(JAVA_INT, 1);
        }
        for (int fd : fds) {
            LibC.fcntl(fd, LibC.F_SETFL, LibC.fcntl(fd, LibC.F_GETFL) | LibC.O_NONBLOCK);
            LibC.fcntl(fd, LibC.F_SETFD, LibC.FD_CLOEXEC);
        }
        return fds;
    }

    /**
     * Starts {@code loop} on a daemon platform thread. Should it ever throw, every waiter ends at
     * its own deadline (or the poll loop's backstop); say why once.
     */
    static Thread start(String name, Runnable loop) {
        return Thread.ofPlatform().daemon().name(name).start(() -> {
            try {
                loop.run();
            } catch (Throwable t) {
                System.err.println("rpctls poller thread died: " + t);
                throw t;
            }
        });
    }
}
