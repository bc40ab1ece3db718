package org.rpctls.upcall;

import java.io.IOException;
import org.rpctls.sys.SocketFd;

/**
 * Where a CONNECT upcall's TCP socket comes from: FreeBSD's rpctls_syscall, or the emulated
 * kernel's claim table or broker ({@link EmulatedSocketSource}). The descriptor returned belongs
 * to the daemon, which must close it.
 */
public interface SocketSource {
    /**
     * @param cookie version 2: the kernel's socket cookie; version 1: ignored (the kernel hands
     *               over the socket pending for the upcall in progress)
     */
    SocketFd claim(long cookie) throws IOException;
}
