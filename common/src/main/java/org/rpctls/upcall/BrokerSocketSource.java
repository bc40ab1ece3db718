package org.rpctls.upcall;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.locks.ReentrantLock;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.SystemCallException;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.UnixSockets;

/**
 * The emulated kernel's stand-in for rpctls_syscall: connect to DIR/broker.sock, send the
 * 8-byte big-endian cookie (version 1: 0, "the socket pending for my current upcall"), read one
 * status byte (0 = ok, else the errno) with the socket attached as SCM_RIGHTS.
 */
public final class BrokerSocketSource implements SocketSource {
    private final Path broker;
    /**
     * One claim at a time. The broker answers its connections in order, and the blocking
     * connect/recvmsg below pin a virtual thread's carrier: with concurrent claims, every carrier
     * could sit in recvmsg while the broker waits for the cookie of a claim whose virtual thread
     * has no carrier left to run on, and the daemon hung (seen in the handshake storm, 10 CONNECTs
     * at once on 2 CPUs). Waiting for this lock unmounts the virtual thread instead.
     */
    private final ReentrantLock oneAtATime = new ReentrantLock();

    public BrokerSocketSource(Path broker) {
        this.broker = broker;
    }

    @Override
    public SocketFd claim(long cookie) throws IOException {
        oneAtATime.lock();
        try (SocketFd conn = UnixSockets.connect(broker, LibC.SOCK_STREAM)) {
            UnixSockets.sendWithFd(conn.fd(), ByteBuffer.allocate(8).putLong(cookie).array(), -1);
            UnixSockets.Received r = UnixSockets.receiveWithFd(conn.fd(), 1);
            SocketFd fd = r.fd() >= 0 ? SocketFd.adopt(r.fd()) : null;
            if (r.data().length != 1) {
                if (fd != null) fd.close();
                throw new IOException("socket broker: no status byte");
            }
            int status = Byte.toUnsignedInt(r.data()[0]);
            if (status != 0) {
                if (fd != null) fd.close();
                throw new SystemCallException("rpctls_syscall (emulated, cookie 0x" + Long.toHexString(cookie) + ")", status);
            }
            if (fd == null) {
                // Linux drops an SCM_RIGHTS descriptor the receiver has no room for (RLIMIT_NOFILE)
                // and sets MSG_CTRUNC; the real rpctls_syscall fails with EMFILE in falloc then.
                // Report it as that, so the log says what ran out (found by FaultTest).
                throw new SystemCallException("rpctls_syscall (emulated, cookie 0x" + Long.toHexString(cookie)
                        + "): the socket's descriptor could not be received", LibC.EMFILE);
            }
            return fd;
        } finally {
            oneAtATime.unlock();
        }
    }
}
