package org.rpctls.sys;

import java.util.concurrent.atomic.AtomicInteger;
import org.rpctls.ffi.LibC;

/**
 * A file descriptor with exactly one owner. {@link #close()} closes it once; {@link #release()}
 * hands the raw number to a new owner (a TLS session), after which this holder does nothing.
 */
public final class SocketFd implements AutoCloseable {
    private final AtomicInteger fd;

    private SocketFd(int fd) {
        if (fd < 0) throw new IllegalArgumentException("bad file descriptor " + fd);
        this.fd = new AtomicInteger(fd);
    }

    /** Takes ownership of {@code fd}. */
    public static SocketFd adopt(int fd) {
        return new SocketFd(fd);
    }

    /** The descriptor; it stays owned by this holder. */
    public int fd() {
        int v = fd.get();
        if (v < 0) throw new IllegalStateException("descriptor already closed or released");
        return v;
    }

    public boolean isOpen() {
        return fd.get() >= 0;
    }

    /** Gives up ownership and returns the descriptor, which the caller must close. */
    public int release() {
        int v = fd.getAndSet(-1);
        if (v < 0) throw new IllegalStateException("descriptor already closed or released");
        return v;
    }

    @Override
    public void close() {
        int v = fd.getAndSet(-1);
        if (v >= 0) LibC.close(v);
    }

    @Override
    public String toString() {
        return "fd " + fd.get();
    }
}
