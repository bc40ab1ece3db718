package org.rpctls.netlink;

import java.io.IOException;

/** Whole netlink packets in and out: a real AF_NETLINK socket, or an emulator's SOCK_SEQPACKET. */
public interface NetlinkSocket extends AutoCloseable {
    /** Blocks for the next packet; null when the socket was closed. */
    byte[] receive() throws IOException;

    void send(byte[] packet) throws IOException;

    /** Joins multicast group {@code group} (NETLINK_ADD_MEMBERSHIP); a no-op where membership is implicit. */
    void joinGroup(int group) throws IOException;

    @Override
    void close();
}
