package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rpctls.emulator.EmulatedKernel;
import org.rpctls.rpc.Rpctls;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.Users;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.Role;
import org.rpctls.tls.RpctlsFlags;
import org.rpctls.tls.TlsContext;
import org.rpctls.tls.TlsSession;
import org.rpctls.tls.TlsSettings;

/** rpc.tlsservd through the emulated kernel, both generations: CONNECT flags, records, disconnect, failures. */
class UpcallServerTest {
    static TestPki pki;
    static final int H = RpctlsFlags.HANDSHAKE, G = RpctlsFlags.GOTCERT, S = RpctlsFlags.SELFSIGNED, V = RpctlsFlags.VERIFIED,
            D = RpctlsFlags.DISABLED, U = RpctlsFlags.CERTUSER;

    @BeforeAll
    static void setUp() throws Exception {
        pki = TestPki.get();
    }

    /** One server CONNECT whose NFS client is the engine presenting CA's certificate NAME (null: none). */
    static EmulatedKernel.ServerResult connect(Flows.Setup s, Pki ca, String name, TlsSession[] keep) throws Exception {
        TlsSettings cs = TlsSettings.defaults(Role.CLIENT).withCertDir(name == null ? pki.clientDir : pki.certDir(ca, name)).withOwnCert(name != null);
        try (var ctx = TlsContext.create(cs)) {
            SocketFd[] pair = Flows.tcpPair(s.loop());
            var peer = Flows.engineHandshake(ctx, pair[0], Handshaker.Request.defaults());
            try (SocketFd kernelSocket = pair[1]) {
                var r = s.kernel().serverConnect(kernelSocket);
                TlsSession session = Flows.get(peer);
                if (keep != null) keep[0] = session;
                else session.close();
                return r;
            } finally {
                pair[0].close();
            }
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void flagsForEveryKindOfClientCertificate(int version) throws Exception {
        try (var s = Flows.start(version, Role.SERVER, "-v", "--no-ktls-check", "-D", pki.serverDir.toString(),
                "-m", "-l", pki.main.caCert.toString(), "-u", "-n", TestPki.USER_DOMAIN)) {
            s.kernel().nullCall(Role.SERVER);
            assertEquals(H, connect(s, null, null, null).flags(), "no client certificate");
            var mapped = connect(s, pki.main, "client", null);
            assertEquals(H | G | V | U, mapped.flags(), RpctlsFlags.describe(mapped.flags()));
            var daemonUser = Users.lookup("daemon").orElseThrow();
            assertEquals(daemonUser.uid(), mapped.uid());
            assertArrayEquals(daemonUser.gids(), mapped.gids());
            assertEquals(H | G | V, connect(s, pki.main, "userwrongdomain", null).flags());
            assertEquals(H | G, connect(s, pki.rogue, "client", null).flags(), "unknown CA");
            assertEquals(H | G | S, connect(s, pki.self, "client", null).flags(), "self-signed");
            assertEquals(H | G, connect(s, pki.main, "clientold", null).flags(), "expired");
            s.daemon().awaitLine("verify failed certificate has expired");
            s.daemon().awaitLine("issuerName=/CN=rogue test CA subjectName=/CN=rogueclient verify failed");
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void hostCheckDisablesAMismatchedClient(int version) throws Exception {
        try (var s = Flows.start(version, Role.SERVER, "--no-ktls-check", "-D", pki.serverDir.toString(),
                "-m", "-l", pki.main.caCert.toString(), "-h")) {
            assertEquals(H | G | V, connect(s, pki.main, "client", null).flags(), "127.0.0.1 is localhost");
            assertEquals(H | G | V | D, connect(s, pki.main, "clientfar", null).flags(), "other.example is not");
            s.daemon().awaitLine("host name localhost does not match");
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void withoutKernelTlsTheConnectionIsDisabled(int version) throws Exception {
        // FreeBSD's rule, on a host whose kernel has no kTLS: handshake done, connection disabled
        try (var s = Flows.start(version, Role.SERVER, "-D", pki.serverDir.toString())) {
            var r = connect(s, null, null, null);
            assertEquals(H | D, r.flags());
            s.daemon().awaitLine("ktls not working");
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void failedHandshakeIsAnsweredAtOnceWithHandshfail(int version) throws Exception {
        try (var s = Flows.start(version, Role.SERVER, "--no-ktls-check", "-D", pki.serverDir.toString())) {
            SocketFd[] pair = Flows.tcpPair(s.loop());
            try (SocketFd peer = pair[0]; SocketFd kernelSocket = pair[1]) {
                // the "client" speaks plain text, not TLS
                try (var arena = java.lang.foreign.Arena.ofConfined()) {
                    var msg = arena.allocateFrom("GET / HTTP/1.0\r\n\r\n");
                    org.rpctls.ffi.LibC.write(peer.fd(), msg, msg.byteSize() - 1);
                }
                long t0 = System.nanoTime();
                var r = s.kernel().serverConnect(kernelSocket);
                long ms = (System.nanoTime() - t0) / 1_000_000;
                assertTrue(r.replied(), "FreeBSD would leave the kernel waiting 15 s; we answer");
                assertEquals(RpctlsFlags.HANDSHFAIL, r.flags());
                assertTrue(ms < 5000, ms + " ms");
                s.daemon().awaitLine("TLS handshake with client 127.0.0.1:");
                assertTrue(s.daemon().hasLine("wrong version number") || s.daemon().hasLine("http request"), s.daemon().log());
            }
            s.kernel().nullCall(Role.SERVER); // still serving
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void recordsAndDisconnect(int version) throws Exception {
        try (var s = Flows.start(version, Role.SERVER, "-v", "--no-ktls-check", "-D", pki.serverDir.toString())) {
            TlsSession[] peer = new TlsSession[1];
            var r = connect(s, null, null, peer);
            // data still flows on the kept socket (no kTLS here: through the daemon's SSL? no: the peer reads our records)
            assertEquals(Rpctls.RPCTLSERR_NOSSL, s.kernel().handleRecord(Role.SERVER, otherRef(r.ref())), "unknown id");
            peer[0].close(); // the NFS client's close_notify arrives; the kernel sees a non-data record
            assertEquals(Rpctls.RPCTLSERR_OK, s.kernel().handleRecord(Role.SERVER, r.ref()));
            s.daemon().awaitLine("close_notify from 127.0.0.1:");
            assertEquals(Rpctls.RPCTLSERR_OK, s.kernel().disconnect(Role.SERVER, r.ref()));
            s.daemon().awaitLine("closed connection to 127.0.0.1:");
            assertEquals(Rpctls.RPCTLSERR_NOCLOSE, s.kernel().disconnect(Role.SERVER, r.ref()), "second DISCONNECT");
            assertEquals(Rpctls.RPCTLSERR_NOSSL, s.kernel().handleRecord(Role.SERVER, r.ref()), "after DISCONNECT");
        }
    }

    /** An id the daemon never handed out, of the same generation. */
    static EmulatedKernel.SessionRef otherRef(EmulatedKernel.SessionRef ref) {
        return switch (ref) {
            case EmulatedKernel.SessionRef.Triple t -> new EmulatedKernel.SessionRef.Triple(t.sec(), t.usec(), t.refno() + 1000);
            case EmulatedKernel.SessionRef.Cookie c -> new EmulatedKernel.SessionRef.Cookie(c.socookie() ^ 0x5a5a);
        };
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void realPeersOpensslAndGnutls(int version) throws Exception {
        try (var s = Flows.start(version, Role.SERVER, "--no-ktls-check", "-D", pki.serverDir.toString(),
                "-m", "-l", pki.main.caCert.toString())) {
            int port = s.loop().address.getPort();
            try (var client = PeerProcess.start("openssl", "s_client", "-connect", "127.0.0.1:" + port, "-CAfile", pki.main.caCert.toString(),
                    "-verify_return_error", "-cert", pki.main.cert("client").toString(), "-key", pki.main.key("client").toString());
                 SocketFd kernelSocket = org.rpctls.sys.Sockets.accept(s.loop().listener(), Duration.ofSeconds(10))) {
                var r = s.kernel().serverConnect(kernelSocket);
                assertEquals(H | G | V, r.flags());
                client.awaitOutput("Verify return code: 0 (ok)", Duration.ofSeconds(10));
                assertEquals(Rpctls.RPCTLSERR_OK, s.kernel().disconnect(Role.SERVER, r.ref()));
                assertEquals(0, client.finish(Duration.ofSeconds(10)));
            }
            try (var client = PeerProcess.start("gnutls-cli", "--port", String.valueOf(port), "--x509cafile", pki.main.caCert.toString(),
                    "--x509certfile", pki.main.cert("alt").toString(), "--x509keyfile", pki.main.key("alt").toString(), "localhost");
                 SocketFd kernelSocket = org.rpctls.sys.Sockets.accept(s.loop().listener(), Duration.ofSeconds(10))) {
                var r = s.kernel().serverConnect(kernelSocket);
                assertEquals(H | G | V, r.flags());
                client.awaitOutput("Handshake was completed", Duration.ofSeconds(10));
                assertEquals(Rpctls.RPCTLSERR_OK, s.kernel().disconnect(Role.SERVER, r.ref()));
            }
            assertFalse(s.daemon().hasLine("ERROR"), s.daemon().log());
        }
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
