package org.rpctls.netlink;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The receive buffer of one netlink socket. Its memory is released by the GC once the socket
 * is gone: a reader thread may still be inside recv(2) on it while another thread closes the
 * socket, and an explicitly closed arena would then fail the close.
 */
final class PacketBuffer {
    /** One attribute carries at most 64 KiB; a packet may carry a few messages. */
    static final int SIZE = 256 * 1024;

    final MemorySegment segment = Arena.ofAuto().allocate(SIZE);
}
