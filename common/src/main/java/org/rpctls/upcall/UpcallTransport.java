package org.rpctls.upcall;

import java.io.IOException;
import org.rpctls.rpc.RpcPrograms;

/**
 * How upcalls reach a daemon: FreeBSD 13/14's AF_LOCAL RPC socket, or FreeBSD 15's netlink
 * family "rpc" (real or emulated). Everything kernel-specific sits behind this.
 */
public interface UpcallTransport extends AutoCloseable {
    /** Starts serving calls to {@code programs}; returns once the kernel can reach the daemon. */
    void start(RpcPrograms programs) throws IOException;

    /** For the start-up log line. */
    String describe();

    @Override
    void close();
}
