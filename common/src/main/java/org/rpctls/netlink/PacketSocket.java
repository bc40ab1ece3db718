package org.rpctls.netlink;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.SystemCallException;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.UnixSockets;

/**
 * A descriptor that carries whole packets: the common part of the netlink sockets.
 *
 * <p>Closing while a reader sits in recv(2) needs care: Linux netlink sockets ignore
 * shutdown(2), so the reader would stay blocked, and closing the descriptor under it lets the
 * number be reused by an unrelated file. So receives time out every {@link #RECEIVE_TICK_MILLIS}
 * (SO_RCVTIMEO) to look at the closed flag, and {@link #close()} waits for the reader to leave
 * before it closes the descriptor.
 */
abstract class PacketSocket implements NetlinkSocket {
    static final long RECEIVE_TICK_MILLIS = 500;

    protected final SocketFd fd;
    private final PacketBuffer buffer = new PacketBuffer();
    /** Readers and senders hold the read lock while they use the descriptor; close takes the write lock. */
    private final ReentrantReadWriteLock use = new ReentrantReadWriteLock();
    private volatile boolean closed;

    protected PacketSocket(SocketFd fd) {
        this.fd = fd;
        try (Arena arena = Arena.ofConfined()) {
            var tv = arena.allocate(16, 8); // struct timeval { time_t tv_sec; suseconds_t tv_usec; } on LP64
            tv.set(JAVA_LONG, 0, RECEIVE_TICK_MILLIS / 1000);
            tv.set(JAVA_LONG, 8, RECEIVE_TICK_MILLIS % 1000 * 1000);
            // Failure only costs the prompt close: the reader then leaves at the next packet.
            LibC.setsockopt(fd.fd(), LibC.SOL_SOCKET, LibC.SO_RCVTIMEO, tv, 16);
        }
    }

    @Override
    public byte[] receive() throws IOException {
        while (true) {
            use.readLock().lock();
            try {
                if (closed) return null;
                return UnixSockets.receivePacket(fd.fd(), buffer.segment);
            } catch (SystemCallException e) {
                if (closed) return null;
                if (e.errno() != LibC.EAGAIN) throw e;
                // the receive tick: look at the closed flag again
            } catch (IOException | IllegalStateException e) {
                if (closed) return null;
                throw e;
            } finally {
                use.readLock().unlock();
            }
        }
    }

    @Override
    public void send(byte[] packet) throws IOException {
        use.readLock().lock();
        try {
            if (closed) throw new IOException("netlink socket closed");
            UnixSockets.sendPacket(fd.fd(), packet);
        } finally {
            use.readLock().unlock();
        }
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        LibC.shutdown(fd.fd(), LibC.SHUT_RDWR); // wakes a SOCK_SEQPACKET reader at once; netlink waits for the tick
        use.writeLock().lock();
        try {
            fd.close();
        } finally {
            use.writeLock().unlock();
        }
    }
}
