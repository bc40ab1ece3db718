package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rpctls.emulator.EmulatedKernel;
import org.rpctls.rpc.Rpctls;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.Sockets;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.Role;
import org.rpctls.tls.TlsContext;
import org.rpctls.tls.TlsSession;
import org.rpctls.tls.TlsSettings;

/** rpc.tlsclntd through the emulated kernel, both generations: the NFS server end is a real TLS stack. */
class UpcallClientTest {
    static TestPki pki;

    @BeforeAll
    static void setUp() throws Exception {
        pki = TestPki.get();
    }

    /** A client CONNECT whose NFS server is the engine serving CA's NAME certificate (asking for a client certificate). */
    static EmulatedKernel.ClientResult connect(Flows.Setup s, Pki ca, String serverName, String certname, TlsSession[] keep) throws Exception {
        TlsSettings ss = TlsSettings.defaults(Role.SERVER).withCertDir(pki.certDir(ca, serverName))
                .withPeerCertRequest(true).withCa(pki.main.caCert, null);
        try (var ctx = TlsContext.create(ss)) {
            SocketFd[] pair = Flows.tcpPair(s.loop());
            CompletableFuture<TlsSession> peer = Flows.engineHandshake(ctx, pair[1], Handshaker.Request.defaults().withTimeout(Duration.ofSeconds(20)));
            try (SocketFd kernelSocket = pair[0]) {
                var r = s.kernel().clientConnect(kernelSocket, certname);
                try {
                    TlsSession session = Flows.get(peer);
                    if (keep != null) keep[0] = session;
                    else session.close();
                } catch (Exception e) {
                    if (keep != null) keep[0] = null;
                }
                return r;
            } finally {
                pair[1].close();
            }
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void connectHandleRecordDisconnect(int version) throws Exception {
        try (var s = Flows.start(version, Role.CLIENT, "-v", "--no-ktls-check", "-l", pki.main.caCert.toString())) {
            s.kernel().nullCall(Role.CLIENT);
            TlsSession[] server = new TlsSession[1];
            var r = connect(s, pki.main, "server", "", server);
            assertEquals(Rpctls.RPCTLSERR_OK, r.reterr(), s.daemon().log());
            if (r.ref() instanceof EmulatedKernel.SessionRef.Triple t) assertTrue(t.refno() >= 1);
            s.daemon().awaitLine("SSL handshake ok for server 127.0.0.1:");
            server[0].close(); // the NFS server's close_notify
            assertEquals(Rpctls.RPCTLSERR_OK, s.kernel().handleRecord(Role.CLIENT, r.ref()));
            s.daemon().awaitLine("close_notify from");
            assertEquals(Rpctls.RPCTLSERR_OK, s.kernel().disconnect(Role.CLIENT, r.ref()));
            assertEquals(Rpctls.RPCTLSERR_NOCLOSE, s.kernel().disconnect(Role.CLIENT, r.ref()));
            assertEquals(Rpctls.RPCTLSERR_NOSSL, s.kernel().handleRecord(Role.CLIENT, r.ref()));
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void certnameSelectsTheClientCertificate(int version) throws Exception {
        try (var s = Flows.start(version, Role.CLIENT, "-v", "--no-ktls-check", "-m", "-D", pki.clientDir.toString(),
                "-l", pki.main.caCert.toString())) {
            TlsSession[] server = new TlsSession[1];
            assertEquals(Rpctls.RPCTLSERR_OK, connect(s, pki.main, "server", "", server).reterr());
            assertEquals("/CN=nfsclient", server[0].peer().subject(), "cert.pem without a name");
            server[0].close();
            assertEquals(Rpctls.RPCTLSERR_OK, connect(s, pki.main, "server", "alt", server).reterr());
            assertEquals("/CN=alt", server[0].peer().subject(), "tlscertname=alt selects alt.pem / altkey.pem");
            server[0].close();
            for (String bad : new String[] {"../serverdir/cert", "/etc/passwd", "missing"}) {
                assertEquals(Rpctls.RPCTLSERR_NOSSL, connect(s, pki.main, "server", bad, null).reterr(), bad);
            }
            s.daemon().awaitLine("certificate name \"../serverdir/cert\" rejected");
            s.daemon().awaitLine("missing.pem: not readable or missing");
            s.kernel().nullCall(Role.CLIENT);
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void serverThatDoesNotVerifyIsRefused(int version) throws Exception {
        try (var s = Flows.start(version, Role.CLIENT, "--no-ktls-check", "-l", pki.main.caCert.toString())) {
            assertEquals(Rpctls.RPCTLSERR_NOSSL, connect(s, pki.rogue, "server", "", null).reterr(), "unknown CA");
            s.daemon().awaitLine("unable to get local issuer certificate");
            assertEquals(Rpctls.RPCTLSERR_NOSSL, connect(s, pki.main, "serverfar", "", null).reterr(), "name mismatch");
            s.daemon().awaitLine("hostname mismatch (localhost)");
            assertEquals(Rpctls.RPCTLSERR_NOSSL, connect(s, pki.main, "serverold", "", null).reterr(), "expired");
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void withoutKernelTlsTheClientFails(int version) throws Exception {
        try (var s = Flows.start(version, Role.CLIENT, "-l", pki.main.caCert.toString())) {
            assertEquals(Rpctls.RPCTLSERR_NOSSL, connect(s, pki.main, "server", "", null).reterr());
            s.daemon().awaitLine("ktls not working");
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void realPeersOpensslAndGnutlsServers(int version) throws Exception {
        try (var s = Flows.start(version, Role.CLIENT, "--no-ktls-check", "-l", pki.main.caCert.toString())) {
            int port = PeerProcess.freePort();
            try (var server = PeerProcess.start("openssl", "s_server", "-accept", "127.0.0.1:" + port, "-naccept", "1",
                    "-cert", pki.main.cert("server").toString(), "-key", pki.main.key("server").toString(), "-tls1_3")) {
                server.awaitOutput("ACCEPT", Duration.ofSeconds(10));
                try (SocketFd fd = Sockets.connectTcp(new java.net.InetSocketAddress("127.0.0.1", port), Duration.ofSeconds(5))) {
                    var r = s.kernel().clientConnect(fd, "");
                    assertEquals(Rpctls.RPCTLSERR_OK, r.reterr(), s.daemon().log());
                    assertEquals(Rpctls.RPCTLSERR_OK, s.kernel().disconnect(Role.CLIENT, r.ref()));
                }
            }
            int gport = PeerProcess.freePort();
            try (var server = PeerProcess.start("gnutls-serv", "--port", String.valueOf(gport), "--echo",
                    "--x509certfile", pki.main.cert("server").toString(), "--x509keyfile", pki.main.key("server").toString())) {
                server.awaitOutput("Echo Server listening on IPv4", Duration.ofSeconds(10));
                try (SocketFd fd = Sockets.connectTcp(new java.net.InetSocketAddress("127.0.0.1", gport), Duration.ofSeconds(5))) {
                    var r = s.kernel().clientConnect(fd, "");
                    assertEquals(Rpctls.RPCTLSERR_OK, r.reterr(), s.daemon().log());
                    assertEquals(Rpctls.RPCTLSERR_OK, s.kernel().disconnect(Role.CLIENT, r.ref()));
                }
            }
        }
    }
}
