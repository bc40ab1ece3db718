package org.rpctls.netlink;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import org.rpctls.ffi.LibC;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.UnixSockets;

/**
 * The emulated kernel's netlink: an AF_UNIX SOCK_SEQPACKET connection on which each packet is
 * one netlink message exactly as FreeBSD 15 would deliver it. Group membership is implicit.
 */
public final class SeqpacketSocket implements NetlinkSocket {
    private final SocketFd fd;
    private final PacketBuffer buffer = new PacketBuffer();
    private final AtomicBoolean closed = new AtomicBoolean();

    private SeqpacketSocket(SocketFd fd) {
        this.fd = fd;
    }

    public static SeqpacketSocket connect(Path path) throws IOException {
        return new SeqpacketSocket(UnixSockets.connect(path, LibC.SOCK_SEQPACKET));
    }

    /** Wraps an accepted connection (the emulator's side). */
    public static SeqpacketSocket adopt(SocketFd fd) {
        return new SeqpacketSocket(fd);
    }

    @Override
    public byte[] receive() throws IOException {
        if (closed.get()) return null;
        try {
            return UnixSockets.receivePacket(fd.fd(), buffer.segment);
        } catch (IOException | IllegalStateException e) {
            if (closed.get()) return null;
            throw e;
        }
    }

    @Override
    public void send(byte[] packet) throws IOException {
        UnixSockets.sendPacket(fd.fd(), packet);
    }

    @Override
    public void joinGroup(int group) {
        // the emulator delivers every group's messages to every connection, as multicast would
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            LibC.shutdown(fd.fd(), LibC.SHUT_RDWR); // wakes a reader blocked in recv
            fd.close();
        }
    }
}
