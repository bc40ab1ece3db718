package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.Sockets;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.HostCheck;
import org.rpctls.tls.RpctlsFlags;
import org.rpctls.tls.TlsContext;
import org.rpctls.tls.TlsSession;
import org.rpctls.tls.TlsSettings;

/** The engine against OpenSSL's own command-line peers, openssl s_server and s_client. */
class OpensslInteropTest {
    static TestPki pki;
    static final Duration WAIT = Duration.ofSeconds(10);
    static final Handshaker.Request REQ = Handshaker.Request.defaults().withTimeout(WAIT);

    @BeforeAll
    static void setUp() throws Exception {
        pki = TestPki.get();
        PeerProcess.requireTool("openssl");
    }

    // ---- engine as client (rpc.tlsclntd) against openssl s_server ----

    private PeerProcess sServer(int port, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("openssl", "s_server", "-accept", "127.0.0.1:" + port,
                "-cert", pki.main.cert("server").toString(), "-key", pki.main.key("server").toString(), "-naccept", "1"));
        cmd.addAll(List.of(extra));
        PeerProcess p = PeerProcess.start(cmd.toArray(String[]::new));
        p.awaitOutput("ACCEPT", WAIT);
        return p;
    }

    private TlsSession connect(TlsContext ctx, int port, Handshaker.Request req) throws Exception {
        try (SocketFd fd = Sockets.connectTcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), WAIT)) {
            return Handshaker.handshake(ctx, fd, req);
        }
    }

    @Test
    void clientTls13AgainstSServer() throws Exception {
        int port = PeerProcess.freePort();
        try (var server = sServer(port, "-tls1_3", "-alpn", "sunrpc");
             var ctx = TlsContext.create(pki.client());
             var s = connect(ctx, port, REQ.withHostCheck(new HostCheck.ReverseDns(HostCheck.NO_WILDCARDS)))) {
            assertEquals("TLSv1.3", s.info().protocol());
            assertEquals("sunrpc", s.info().alpn());
            assertTrue(RpctlsFlags.clientRefusal(s, true, false).isEmpty(), s.peer().toString());
            s.write("hello from rpc.tlsclntd\n".getBytes(StandardCharsets.US_ASCII));
            server.awaitOutput("hello from rpc.tlsclntd", WAIT);
        }
    }

    @Test
    void clientTls12AgainstSServer() throws Exception {
        int port = PeerProcess.freePort();
        try (var server = sServer(port, "-tls1_2");
             var ctx = TlsContext.create(pki.client().withTls12(true));
             var s = connect(ctx, port, REQ)) {
            assertEquals("TLSv1.2", s.info().protocol());
            assertNull(s.info().alpn(), "s_server without -alpn answers none, and the client does not mind");
            s.write("ping\n".getBytes(StandardCharsets.US_ASCII));
            server.awaitOutput("ping", WAIT);
        }
    }

    @Test
    void clientCertificateAcceptedBySServerThatRequiresOne() throws Exception {
        int port = PeerProcess.freePort();
        try (var server = sServer(port, "-tls1_3", "-Verify", "2", "-CAfile", pki.main.caCert.toString(), "-verify_return_error");
             var ctx = TlsContext.create(pki.client().withOwnCert(true));
             var s = connect(ctx, port, REQ)) {
            s.write("mtls\n".getBytes(StandardCharsets.US_ASCII));
            server.awaitOutput("mtls", WAIT);
            assertTrue(server.output().contains("CN = nfsclient") || server.output().contains("CN=nfsclient"), server.output());
        }
    }

    @Test
    void clientGetsAClearErrorWhenSServerRejectsItsCertificate() throws Exception {
        int port = PeerProcess.freePort();
        TlsSettings rogueClient = TlsSettings.defaults(org.rpctls.tls.Role.CLIENT)
                .withCertDir(pki.certDir(pki.rogue, "client")).withOwnCert(true).withCa(pki.main.caCert, null);
        try (var server = sServer(port, "-tls1_3", "-Verify", "2", "-CAfile", pki.main.caCert.toString(), "-verify_return_error");
             var ctx = TlsContext.create(rogueClient)) {
            // TLS 1.3: the client finishes first; the server's alert arrives with its first read
            try (var s = connect(ctx, port, REQ)) {
                byte[] got = s.read(100, Duration.ofSeconds(5));
                assertEquals(0, got.length);
            } catch (org.rpctls.tls.HandshakeException e) {
                assertTrue(e.getMessage().contains("alert"), e.getMessage());
            }
            server.waitFor(WAIT);
            assertTrue(server.output().contains("verify error") || server.output().contains("unable to get local issuer"), server.output());
        }
    }

    // ---- engine as server (rpc.tlsservd) against openssl s_client ----

    private PeerProcess sClient(int port, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("openssl", "s_client", "-connect", "127.0.0.1:" + port,
                "-CAfile", pki.main.caCert.toString(), "-verify_return_error", "-verify_hostname", "localhost"));
        cmd.addAll(List.of(extra));
        return PeerProcess.start(cmd.toArray(String[]::new));
    }

    private TlsSession accept(Loopback loop, TlsContext ctx) throws Exception {
        try (SocketFd fd = Sockets.accept(loop.listener(), WAIT)) {
            return Handshaker.handshake(ctx, fd, REQ);
        }
    }

    @Test
    void serverAgainstSClientTls13() throws Exception {
        try (var loop = new Loopback(); var ctx = TlsContext.create(pki.server());
             var client = sClient(loop.address.getPort(), "-tls1_3", "-alpn", "sunrpc");
             var s = accept(loop, ctx)) {
            assertEquals("TLSv1.3", s.info().protocol());
            assertEquals("sunrpc", s.info().alpn());
            s.write("from rpc.tlsservd\n".getBytes(StandardCharsets.US_ASCII));
            client.awaitOutput("from rpc.tlsservd", WAIT);
            String out = client.output();
            assertTrue(out.contains("Verify return code: 0 (ok)"), out);
            assertTrue(out.contains("ALPN protocol: sunrpc"), out);
            // the server sends no session tickets: kernels cannot use them
            assertFalse(out.contains("New Session Ticket arrived"), out);
            assertEquals(0, client.finish(WAIT));
            // s_client sent close_notify on EOF: HANDLERECORD consumes and answers it
            assertEquals(TlsSession.RecordResult.CLOSE_NOTIFY, s.handleRecord(WAIT));
        }
    }

    @Test
    void serverAcceptsClientsWithoutAlpnOrWithOtherProtocols() throws Exception {
        for (String[] alpn : new String[][] {{}, {"-alpn", "h2,http/1.1"}}) {
            try (var loop = new Loopback(); var ctx = TlsContext.create(pki.server());
                 var client = sClient(loop.address.getPort(), concat(new String[] {"-tls1_3"}, alpn));
                 var s = accept(loop, ctx)) {
                assertNull(s.info().alpn(), "no ALPN agreed, and no failure");
                s.write("ok\n".getBytes(StandardCharsets.US_ASCII));
                client.awaitOutput("ok", WAIT);
            }
        }
    }

    @Test
    void serverAgainstSClientTls12WithDashTwoAndClientCertificate() throws Exception {
        try (var loop = new Loopback(); var ctx = TlsContext.create(pki.mutualServer().withTls12(true));
             var client = sClient(loop.address.getPort(), "-tls1_2",
                     "-cert", pki.main.cert("client").toString(), "-key", pki.main.key("client").toString());
             var s = accept(loop, ctx)) {
            assertEquals("TLSv1.2", s.info().protocol());
            assertEquals(RpctlsFlags.HANDSHAKE | RpctlsFlags.GOTCERT | RpctlsFlags.VERIFIED, RpctlsFlags.server(s, true, false));
            assertEquals("/CN=nfsclient", s.peer().subject());
        }
    }

    @Test
    void serverRefusesTls12ClientWithoutDashTwo() throws Exception {
        try (var loop = new Loopback(); var ctx = TlsContext.create(pki.server());
             var client = sClient(loop.address.getPort(), "-tls1_2")) {
            try (SocketFd fd = Sockets.accept(loop.listener(), WAIT)) {
                var e = org.junit.jupiter.api.Assertions.assertThrows(org.rpctls.tls.HandshakeException.class,
                        () -> Handshaker.handshake(ctx, fd, REQ));
                assertTrue(e.getMessage().contains("unsupported protocol"), e.getMessage());
            }
            assertTrue(client.waitFor(WAIT) != 0);
        }
    }

    static String[] concat(String[] a, String[] b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
