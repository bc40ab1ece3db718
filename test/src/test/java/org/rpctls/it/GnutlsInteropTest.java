package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
import org.rpctls.tls.HandshakeException;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.HostCheck;
import org.rpctls.tls.RpctlsFlags;
import org.rpctls.tls.TlsContext;
import org.rpctls.tls.TlsSession;

/** The engine against GnuTLS, an independent TLS stack: gnutls-serv and gnutls-cli. */
class GnutlsInteropTest {
    static TestPki pki;
    static final Duration WAIT = Duration.ofSeconds(10);
    static final Handshaker.Request REQ = Handshaker.Request.defaults().withTimeout(WAIT);
    static final String TLS13 = "NORMAL:-VERS-ALL:+VERS-TLS1.3";
    static final String TLS12 = "NORMAL:-VERS-ALL:+VERS-TLS1.2";

    @BeforeAll
    static void setUp() throws Exception {
        pki = TestPki.get();
        PeerProcess.requireTool("gnutls-serv");
        PeerProcess.requireTool("gnutls-cli");
    }

    // ---- engine as client against gnutls-serv --echo ----

    private PeerProcess gnutlsServ(int port, String priority, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("gnutls-serv", "--port", String.valueOf(port), "--echo",
                "--x509certfile", pki.main.cert("server").toString(), "--x509keyfile", pki.main.key("server").toString(),
                "--priority", priority));
        cmd.addAll(List.of(extra));
        PeerProcess p = PeerProcess.start(cmd.toArray(String[]::new));
        p.awaitOutput("Echo Server listening on IPv4", WAIT);
        return p;
    }

    private TlsSession connect(TlsContext ctx, int port, Handshaker.Request req) throws Exception {
        try (SocketFd fd = Sockets.connectTcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), WAIT)) {
            return Handshaker.handshake(ctx, fd, req);
        }
    }

    private static void echo(TlsSession s, String text) throws Exception {
        byte[] data = text.getBytes(StandardCharsets.US_ASCII);
        s.write(data);
        assertArrayEquals(data, s.read(1000, WAIT));
    }

    @Test
    void clientTls13AgainstGnutlsServ() throws Exception {
        int port = PeerProcess.freePort();
        try (var server = gnutlsServ(port, TLS13, "--alpn=sunrpc");
             var ctx = TlsContext.create(pki.client());
             var s = connect(ctx, port, REQ.withHostCheck(new HostCheck.ReverseDns(HostCheck.NO_WILDCARDS)))) {
            assertEquals("TLSv1.3", s.info().protocol());
            assertEquals("sunrpc", s.info().alpn());
            assertTrue(RpctlsFlags.clientRefusal(s, true, false).isEmpty());
            echo(s, "hello gnutls\n");
        }
    }

    @Test
    void clientTls12AgainstGnutlsServ() throws Exception {
        int port = PeerProcess.freePort();
        try (var server = gnutlsServ(port, TLS12);
             var ctx = TlsContext.create(pki.client().withTls12(true));
             var s = connect(ctx, port, REQ)) {
            assertEquals("TLSv1.2", s.info().protocol());
            echo(s, "tls12\n");
        }
    }

    @Test
    void clientCertificateAcceptedByGnutlsServThatRequiresOne() throws Exception {
        int port = PeerProcess.freePort();
        try (var server = gnutlsServ(port, TLS13, "--require-client-cert", "--verify-client-cert", "--x509cafile", pki.main.caCert.toString());
             var ctx = TlsContext.create(pki.client().withOwnCert(true));
             var s = connect(ctx, port, REQ)) {
            echo(s, "mutual\n");
        }
    }

    // ---- engine as server against gnutls-cli ----

    private PeerProcess gnutlsCli(int port, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("gnutls-cli", "--port", String.valueOf(port), "--priority", TLS13,
                "--x509cafile", pki.main.caCert.toString()));
        cmd.addAll(List.of(extra));
        cmd.add("localhost");
        return PeerProcess.start(cmd.toArray(String[]::new));
    }

    private TlsSession accept(Loopback loop, TlsContext ctx) throws Exception {
        try (SocketFd fd = Sockets.accept(loop.listener(), WAIT)) {
            return Handshaker.handshake(ctx, fd, REQ);
        }
    }

    @Test
    void serverAgainstGnutlsCli() throws Exception {
        try (var loop = new Loopback(); var ctx = TlsContext.create(pki.server());
             var client = gnutlsCli(loop.address.getPort(), "--alpn=sunrpc");
             var s = accept(loop, ctx)) {
            assertEquals("TLSv1.3", s.info().protocol());
            assertEquals("sunrpc", s.info().alpn());
            s.write("from rpc.tlsservd\n".getBytes(StandardCharsets.US_ASCII));
            client.awaitOutput("from rpc.tlsservd", WAIT);
            assertTrue(client.output().contains("The certificate is trusted"), client.output());
            client.stdin().write("bye\n".getBytes(StandardCharsets.US_ASCII));
            client.stdin().flush();
            assertEquals("bye\n", new String(s.read(100, WAIT), StandardCharsets.US_ASCII));
            assertEquals(0, client.finish(WAIT));
            // gnutls-cli ends the session with close_notify (gnutls_bye) on end of input
            assertEquals(TlsSession.RecordResult.CLOSE_NOTIFY, s.handleRecord(WAIT));
        }
    }

    @Test
    void serverVerifiesGnutlsClientCertificate() throws Exception {
        try (var loop = new Loopback(); var ctx = TlsContext.create(pki.mutualServer().withCertUserDomain(TestPki.USER_DOMAIN));
             var client = gnutlsCli(loop.address.getPort(),
                     "--x509certfile", pki.main.cert("client").toString(), "--x509keyfile", pki.main.key("client").toString());
             var s = accept(loop, ctx)) {
            assertEquals(RpctlsFlags.HANDSHAKE | RpctlsFlags.GOTCERT | RpctlsFlags.VERIFIED | RpctlsFlags.CERTUSER,
                    RpctlsFlags.server(s, true, false));
            assertEquals("/CN=nfsclient", s.peer().subject());
        }
    }

    @Test
    void gnutlsCliRejectsAServerFromAnotherCa() throws Exception {
        try (var loop = new Loopback();
             var ctx = TlsContext.create(org.rpctls.tls.TlsSettings.defaults(org.rpctls.tls.Role.SERVER).withCertDir(pki.certDir(pki.rogue, "server")));
             var client = gnutlsCli(loop.address.getPort())) {
            try (SocketFd fd = Sockets.accept(loop.listener(), WAIT)) {
                HandshakeException e = null;
                try (TlsSession s = Handshaker.handshake(ctx, fd, REQ)) {
                    // TLS 1.3: the server may finish before the client's verdict; the alert then ends the first read
                    s.read(10, WAIT);
                } catch (HandshakeException x) {
                    e = x;
                }
                if (e != null) assertTrue(e.getMessage().contains("alert"), e.getMessage());
            }
            assertNotEquals(0, client.waitFor(WAIT));
            assertTrue(client.output().contains("NOT trusted") || client.output().contains("signer not found"), client.output());
        }
    }
}
