package org.rpctls.netlink;

import java.io.IOException;
import java.nio.file.Path;
import org.rpctls.ffi.LibC;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.UnixSockets;

/**
 * The emulated kernel's netlink: an AF_UNIX SOCK_SEQPACKET connection on which each packet is
 * one netlink message exactly as FreeBSD 15 would deliver it. Group membership is implicit.
 */
public final class SeqpacketSocket extends PacketSocket {
    private SeqpacketSocket(SocketFd fd) {
        super(fd);
    }

    public static SeqpacketSocket connect(Path path) throws IOException {
        return new SeqpacketSocket(UnixSockets.connect(path, LibC.SOCK_SEQPACKET));
    }

    /** Wraps an accepted connection (the emulator's side). */
    public static SeqpacketSocket adopt(SocketFd fd) {
        return new SeqpacketSocket(fd);
    }

    @Override
    public void joinGroup(int group) {
        // the emulator delivers every group's messages to every connection, as multicast would
    }
}
