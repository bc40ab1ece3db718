package org.rpctls.emulator;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.rpctls.ffi.LibC;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.UnixSockets;

/**
 * The emulated rpctls_syscall: DIR/broker.sock hands a daemon the TCP socket of an upcall.
 * Request: 8-byte big-endian cookie (0 = "the socket pending for my current upcall", version 1).
 * Answer: one status byte (0, or an errno such as EPERM when nothing is pending) with the
 * descriptor in SCM_RIGHTS. A socket is handed out once, as the kernel's lookup removes it.
 */
final class SocketBroker implements AutoCloseable {
    private final SocketFd listener;
    private final Map<Long, SocketFd> pending = new ConcurrentHashMap<>();
    private final AtomicInteger claims = new AtomicInteger();
    private volatile boolean closed;

    SocketBroker(Path path) throws IOException {
        listener = UnixSockets.listen(path, LibC.SOCK_STREAM, 64);
        org.rpctls.sys.Sockets.setNonBlocking(listener.fd(), false);
        Thread.ofPlatform().daemon().name("emulator broker").start(this::loop);
    }

    /** Makes {@code socket} claimable under {@code cookie} (the kernel keeps its own reference). */
    void offer(long cookie, SocketFd socket) {
        pending.put(cookie, socket);
    }

    /** Withdraws an unclaimed socket (rpctls_rpc_failed: "still in the tree"); true if it was still there. */
    boolean withdraw(long cookie) {
        return pending.remove(cookie) != null;
    }

    int claims() {
        return claims.get();
    }

    private void loop() {
        while (!closed) {
            int c = LibC.accept(listener.fd(), java.lang.foreign.MemorySegment.NULL, java.lang.foreign.MemorySegment.NULL);
            if (c < 0) {
                if (closed) return;
                continue;
            }
            // Each request on its own thread. Served one after the other, a daemon that had connected
            // but not yet sent its cookie held up the rest; the daemon claims from virtual threads whose
            // blocking recvmsg pins their carriers, so with both carriers pinned by claims waiting here,
            // the claim being read could never send its cookie: a deadlock until the kernel's timeout
            // (found by FaultTest's -N test, thread dump of the stalled daemon).
            Thread.ofPlatform().daemon().name("emulator broker request").start(() -> serve(c));
        }
    }

    private void serve(int c) {
        try (SocketFd conn = SocketFd.adopt(c)) {
            var r = UnixSockets.receiveWithFd(conn.fd(), 8);
            if (r.fd() >= 0) LibC.close(r.fd());
            if (r.data().length != 8) {
                UnixSockets.sendWithFd(conn.fd(), new byte[] {(byte) LibC.EPERM}, -1);
                return;
            }
            long cookie = ByteBuffer.wrap(r.data()).getLong();
            SocketFd socket = pending.remove(cookie);
            if (socket == null || !socket.isOpen()) {
                UnixSockets.sendWithFd(conn.fd(), new byte[] {(byte) LibC.EPERM}, -1);
                return;
            }
            claims.incrementAndGet();
            UnixSockets.sendWithFd(conn.fd(), new byte[] {0}, socket.fd());
        } catch (IOException e) {
            // a daemon that went away mid-request: nothing to clean up but the connection
        }
    }

    @Override
    public void close() {
        closed = true;
        LibC.shutdown(listener.fd(), LibC.SHUT_RDWR);
        listener.close();
    }
}
