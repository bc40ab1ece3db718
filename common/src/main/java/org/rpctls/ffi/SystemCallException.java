package org.rpctls.ffi;

import java.io.IOException;

/** A C library call failed; carries the call's name and errno, with strerror's text. */
public class SystemCallException extends IOException {
    private final int errno;

    public SystemCallException(String call, int errno) {
        super(call + ": " + LibC.strerror(errno) + " (errno " + errno + ")");
        this.errno = errno;
    }

    /** A failure of {@code call} described by this thread's last captured errno. */
    public static SystemCallException lastError(String call) {
        return new SystemCallException(call, LibC.errno());
    }

    public int errno() {
        return errno;
    }
}
