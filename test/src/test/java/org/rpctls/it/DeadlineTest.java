package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.Sockets;
import org.rpctls.tls.HandshakeException;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.TlsContext;

/**
 * A peer that stalls or sends garbage ends in a timeout or a clear error within the deadline,
 * and other handshakes keep completing meanwhile.
 */
class DeadlineTest {
    static TestPki pki;

    @BeforeAll
    static void setUp() throws Exception {
        pki = TestPki.get();
    }

    /** Runs the engine's server handshake against whatever {@code peer} does on a plain socket. */
    private static HandshakeException serverAgainst(Duration timeout, PeerAction peer, long[] elapsedNanos) throws Exception {
        try (var loop = new Loopback(); var ctx = TlsContext.create(pki.mutualServer());
             var raw = new Socket(loop.address.getAddress(), loop.address.getPort())) {
            peer.act(raw);
            long t0 = System.nanoTime();
            try (SocketFd fd = Sockets.accept(loop.listener(), Duration.ofSeconds(5))) {
                Handshaker.handshake(ctx, fd, Handshaker.Request.defaults().withTimeout(timeout)).close();
                throw new AssertionError("handshake with a hostile peer succeeded");
            } catch (HandshakeException e) {
                elapsedNanos[0] = System.nanoTime() - t0;
                System.out.printf("server vs hostile peer: %s after %d ms: %s%n", e.reason(), elapsedNanos[0] / 1_000_000, e.getMessage());
                return e;
            }
        }
    }

    interface PeerAction {
        void act(Socket s) throws Exception;
    }

    @Test
    void silentClientEndsInTimeout() throws Exception {
        long[] elapsed = new long[1];
        var e = serverAgainst(Duration.ofSeconds(1), s -> { }, elapsed);
        assertEquals(HandshakeException.Reason.TIMEOUT, e.reason());
        assertTrue(e.getMessage().startsWith("handshake timed out after 1.0 s"), e.getMessage());
        assertTrue(elapsed[0] >= 900_000_000L && elapsed[0] < 4_000_000_000L, "ended at the deadline: " + elapsed[0]);
    }

    @Test
    void randomBytesEndInAProtocolError() throws Exception {
        long[] elapsed = new long[1];
        var e = serverAgainst(Duration.ofSeconds(15), s -> {
            byte[] junk = new byte[4096];
            new Random(42).nextBytes(junk);
            OutputStream o = s.getOutputStream();
            o.write(junk);
            o.flush();
        }, elapsed);
        assertEquals(HandshakeException.Reason.PROTOCOL, e.reason());
        assertTrue(elapsed[0] < 5_000_000_000L, "garbage is rejected at once, not at the deadline");
    }

    @Test
    void halfARecordThenSilenceEndsInTimeout() throws Exception {
        long[] elapsed = new long[1];
        // a TLS handshake record header announcing 512 bytes, then only 10 of them
        var e = serverAgainst(Duration.ofSeconds(1), s -> s.getOutputStream().write(
                new byte[] {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (byte) 0xfc, 0x03, 0x03, 0, 0, 0, 0}), elapsed);
        assertEquals(HandshakeException.Reason.TIMEOUT, e.reason());
    }

    @Test
    void resetMidHandshakeIsReportedAsPeerClosed() throws Exception {
        long[] elapsed = new long[1];
        var e = serverAgainst(Duration.ofSeconds(5), s -> {
            s.getOutputStream().write(new byte[] {0x16, 0x03, 0x01, 0x02, 0x00, 0x01});
            s.setSoLinger(true, 0);
            s.close(); // RST
        }, elapsed);
        assertEquals(HandshakeException.Reason.PEER_CLOSED, e.reason(), e.getMessage());
    }

    @Test
    void silentServerEndsTheClientInTimeout() throws Exception {
        try (var server = new ServerSocket(0, 5, java.net.InetAddress.getLoopbackAddress());
             var ctx = TlsContext.create(pki.client())) {
            var addr = new java.net.InetSocketAddress(server.getInetAddress(), server.getLocalPort());
            try (SocketFd fd = Sockets.connectTcp(addr, Duration.ofSeconds(5)); Socket held = server.accept()) {
                long t0 = System.nanoTime();
                var e = org.junit.jupiter.api.Assertions.assertThrows(HandshakeException.class,
                        () -> Handshaker.handshake(ctx, fd, Handshaker.Request.defaults().withTimeout(Duration.ofSeconds(1))));
                long ms = (System.nanoTime() - t0) / 1_000_000;
                assertEquals(HandshakeException.Reason.TIMEOUT, e.reason());
                assertTrue(ms >= 900 && ms < 4000, ms + " ms");
                assertTrue(held.isConnected());
            }
        }
    }

    @Test
    void otherHandshakesCompleteWhileStalledPeersWait() throws Exception {
        int stalled = 50;
        Duration deadline = Duration.ofSeconds(6);
        try (var hostile = new Loopback(); var good = new Loopback();
             var serverCtx = TlsContext.create(pki.server()); var clientCtx = TlsContext.create(pki.client());
             var exec = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Socket> silent = new ArrayList<>();
            List<Future<HandshakeException.Reason>> waiting = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 0; i < stalled; i++) {
                silent.add(new Socket(hostile.address.getAddress(), hostile.address.getPort()));
                waiting.add(exec.submit(() -> {
                    try (SocketFd fd = Sockets.accept(hostile.listener(), Duration.ofSeconds(5))) {
                        Handshaker.handshake(serverCtx, fd, Handshaker.Request.defaults().withTimeout(deadline)).close();
                        return null;
                    } catch (HandshakeException e) {
                        return e.reason();
                    }
                }));
            }
            int completed = 0;
            for (int i = 0; i < 100; i++) {
                try (var out = good.handshake(serverCtx, Handshaker.Request.defaults(), clientCtx, Handshaker.Request.defaults())) {
                    out.server().get();
                    out.client().get();
                    completed++;
                }
            }
            long goodDoneMs = (System.nanoTime() - t0) / 1_000_000;
            for (var f : waiting) assertEquals(HandshakeException.Reason.TIMEOUT, f.get());
            long allDoneMs = (System.nanoTime() - t0) / 1_000_000;
            for (Socket s : silent) s.close();
            System.out.printf("%d good handshakes done after %d ms while %d stalled peers waited; stalled ones timed out at %d ms%n",
                    completed, goodDoneMs, stalled, allDoneMs);
            assertEquals(100, completed);
            assertTrue(goodDoneMs < deadline.toMillis(), "good handshakes were not held up by the stalled ones");
        }
    }
}
