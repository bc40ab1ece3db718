package org.rpctls.netlink;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.rpctls.ffi.LibC;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.UnixSockets;

/** A descriptor that carries whole packets: the common part of the netlink sockets. */
abstract class PacketSocket implements NetlinkSocket {
    protected final SocketFd fd;
    private final PacketBuffer buffer = new PacketBuffer();
    private final AtomicBoolean closed = new AtomicBoolean();

    protected PacketSocket(SocketFd fd) {
        this.fd = fd;
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
    public void close() {
        if (closed.compareAndSet(false, true)) {
            LibC.shutdown(fd.fd(), LibC.SHUT_RDWR); // wakes a reader blocked in recv
            fd.close();
        }
    }
}
