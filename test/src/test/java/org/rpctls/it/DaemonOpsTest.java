package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rpctls.emulator.EmulatedKernel;
import org.rpctls.ffi.LibC;
import org.rpctls.rpc.Rpctls;
import org.rpctls.sys.SocketFd;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.Role;
import org.rpctls.tls.RpctlsFlags;
import org.rpctls.tls.TlsContext;
import org.rpctls.tls.TlsSession;
import org.rpctls.tls.TlsSettings;

/** Operations: pidfile, SIGTERM, SIGHUP reload of CRL and certificates, revocation, concurrency. */
class DaemonOpsTest {
    static TestPki pki;

    @BeforeAll
    static void setUp() throws Exception {
        pki = TestPki.get();
    }

    /** Whether the far end of {@code s} got EOF (the daemon shut its side down) within {@code wait}. */
    static boolean seesEof(TlsSession s, Duration wait) throws InterruptedException {
        long end = System.nanoTime() + wait.toNanos();
        try (Arena arena = Arena.ofConfined()) {
            var buf = arena.allocate(64);
            while (System.nanoTime() < end) {
                long n = LibC.recv(s.fd(), buf, 64, LibC.MSG_PEEK | LibC.MSG_DONTWAIT);
                if (n == 0) return true;
                if (n > 0) {
                    // a TLS record (close_notify/alert) may precede the FIN: consume it through the session
                    s.read(64, Duration.ofMillis(50));
                    continue;
                }
                Thread.sleep(20);
            }
        }
        return false;
    }

    /** A server CONNECT whose client is the engine with certificate DIR/cert.pem (null: none); the peer's session is returned. */
    static TlsSession serverConnect(Flows.Setup s, Path clientCertDir, int[] flags, EmulatedKernel.SessionRef[] ref) throws Exception {
        TlsSettings cs = TlsSettings.defaults(Role.CLIENT).withCertDir(clientCertDir == null ? pki.clientDir : clientCertDir).withOwnCert(clientCertDir != null);
        try (var ctx = TlsContext.create(cs)) {
            SocketFd[] pair = Flows.tcpPair(s.loop());
            var peer = Flows.engineHandshake(ctx, pair[0], Handshaker.Request.defaults());
            var r = s.kernel().serverConnect(pair[1]);
            flags[0] = r.flags();
            ref[0] = r.ref();
            // pair[1] stays open: it is the kernel's reference for the life of the connection
            return Flows.get(peer);
        }
    }

    /** SIGUSR1 logs the stats line, with the count and service-time percentiles of each kind of upcall served. */
    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void sigusr1LogsStatsWithUpcallServiceTimes(int version) throws Exception {
        try (var s = Flows.start(version, Role.SERVER, "--no-ktls-check", "-D", pki.serverDir.toString())) {
            s.daemon().signal("USR1");
            String first = s.daemon().awaitLine(l -> l.contains("stats: "), Duration.ofSeconds(10));
            assertTrue(first != null && first.contains("sessions=0") && !first.contains("connect_n="), "before any upcall: " + first);
            int[] f = new int[1];
            EmulatedKernel.SessionRef[] r = new EmulatedKernel.SessionRef[1];
            for (int i = 0; i < 3; i++) {
                TlsSession peer = serverConnect(s, null, f, r);
                assertEquals(RpctlsFlags.HANDSHAKE, f[0]);
                peer.close(); // its close_notify is the record HANDLERECORD finds
                assertEquals(Rpctls.RPCTLSERR_OK, s.kernel().handleRecord(Role.SERVER, r[0]));
                assertEquals(Rpctls.RPCTLSERR_OK, s.kernel().disconnect(Role.SERVER, r[0]));
            }
            s.daemon().signal("USR1");
            String line = s.daemon().awaitLine(l -> l.contains("stats: ") && l.contains("connect_n="), Duration.ofSeconds(10));
            assertTrue(line != null, "no second stats line:\n" + s.daemon().log());
            for (String k : new String[] {"connect", "handlerecord", "disconnect"}) {
                var m = java.util.regex.Pattern.compile("\\b" + k + "_n=(\\d+) " + k + "_p50_us=(\\d+) " + k + "_p99_us=(\\d+) " + k
                        + "_max_us=(\\d+)").matcher(line);
                assertTrue(m.find(), k + " fields missing: " + line);
                assertEquals(3, Integer.parseInt(m.group(1)), k + "_n: " + line);
                long p50 = Long.parseLong(m.group(2));
                long max = Long.parseLong(m.group(4));
                assertTrue(p50 > 0 && p50 <= Long.parseLong(m.group(3)) && Long.parseLong(m.group(3)) <= max, line);
            }
            assertTrue(s.daemon().isAlive(), "SIGUSR1 does not end the daemon");
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void sighupRevokesExactlyTheRevokedServerSessions(int version) throws Exception {
        Pki ca = Pki.create(Files.createTempDirectory(pki.base, "crl"), "reload");
        ca.issue("server", Pki.Spec.server("localhost", "DNS:localhost"));
        ca.issue("c1", Pki.Spec.client("c1"));
        ca.issue("c2", Pki.Spec.client("c2"));
        Path crl = ca.crl(ca.dir.resolve("crl.pem"));
        try (var s = Flows.start(version, Role.SERVER, "--no-ktls-check", "-D", ca.installAs("server", ca.dir.resolve("sd")).toString(),
                "-m", "-l", ca.caCert.toString(), "-r", crl.toString())) {
            int[] f = new int[1];
            EmulatedKernel.SessionRef[] r1 = new EmulatedKernel.SessionRef[1];
            EmulatedKernel.SessionRef[] r2 = new EmulatedKernel.SessionRef[1];
            TlsSession p1 = serverConnect(s, ca.installAs("c1", ca.dir.resolve("c1d")), f, r1);
            assertEquals(RpctlsFlags.HANDSHAKE | RpctlsFlags.GOTCERT | RpctlsFlags.VERIFIED, f[0]);
            TlsSession p2 = serverConnect(s, ca.installAs("c2", ca.dir.resolve("c2d")), f, r2);
            assertEquals(RpctlsFlags.HANDSHAKE | RpctlsFlags.GOTCERT | RpctlsFlags.VERIFIED, f[0]);
            ca.revoke("c2");
            ca.crl(crl);
            s.daemon().signal("HUP");
            s.daemon().awaitLine("Certificate Revoked issuerName=/CN=reload test CA subjectName=/CN=c2: TCP connection closed");
            assertTrue(seesEof(p2, Duration.ofSeconds(5)), "the revoked client's connection is shut down");
            assertFalse(seesEof(p1, Duration.ofMillis(500)), "the other connection stays");
            s.daemon().awaitLine("(1 connection revoked)");
            // a new handshake with the revoked certificate no longer verifies
            serverConnect(s, ca.dir.resolve("c2d"), f, new EmulatedKernel.SessionRef[1]);
            assertEquals(RpctlsFlags.HANDSHAKE | RpctlsFlags.GOTCERT, f[0]);
            assertEquals(Rpctls.RPCTLSERR_OK, s.kernel().disconnect(Role.SERVER, r2[0]));
            assertEquals(Rpctls.RPCTLSERR_OK, s.kernel().disconnect(Role.SERVER, r1[0]));
            p1.close();
            p2.close();
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void sighupRevokesTheClientSideToo(int version) throws Exception {
        Pki ca = Pki.create(Files.createTempDirectory(pki.base, "crl"), "clientreload");
        ca.issue("s1", Pki.Spec.server("s1", "DNS:localhost"));
        ca.issue("s2", Pki.Spec.server("s2", "DNS:localhost"));
        Path crl = ca.crl(ca.dir.resolve("crl.pem"));
        try (var s = Flows.start(version, Role.CLIENT, "--no-ktls-check", "-l", ca.caCert.toString(), "-r", crl.toString())) {
            TlsSession[] peers = new TlsSession[2];
            EmulatedKernel.SessionRef[] refs = new EmulatedKernel.SessionRef[2];
            String[] names = {"s1", "s2"};
            for (int i = 0; i < 2; i++) {
                try (var ctx = TlsContext.create(TlsSettings.defaults(Role.SERVER).withCertDir(ca.installAs(names[i], ca.dir.resolve(names[i] + "d"))))) {
                    SocketFd[] pair = Flows.tcpPair(s.loop());
                    CompletableFuture<TlsSession> peer = Flows.engineHandshake(ctx, pair[1], Handshaker.Request.defaults());
                    var r = s.kernel().clientConnect(pair[0], "");
                    assertEquals(Rpctls.RPCTLSERR_OK, r.reterr(), s.daemon().log());
                    peers[i] = Flows.get(peer);
                    refs[i] = r.ref();
                }
            }
            ca.revoke("s2");
            ca.crl(crl);
            s.daemon().signal("HUP");
            s.daemon().awaitLine("subjectName=/CN=s2: TCP connection closed");
            assertTrue(seesEof(peers[1], Duration.ofSeconds(5)), "FreeBSD's client never does this (its CRL bug); we do");
            assertFalse(seesEof(peers[0], Duration.ofMillis(500)));
            assertEquals(Rpctls.RPCTLSERR_OK, s.kernel().disconnect(Role.CLIENT, refs[1]));
            assertEquals(Rpctls.RPCTLSERR_OK, s.kernel().disconnect(Role.CLIENT, refs[0]));
        }
    }

    @Test
    void sighupRotatesTheCertificateAndKeepsItWhenTheNewFileIsBroken() throws Exception {
        Pki ca = Pki.create(Files.createTempDirectory(pki.base, "rot"), "rotation");
        ca.issue("old", Pki.Spec.server("old.example", "DNS:localhost"));
        ca.issue("new", Pki.Spec.server("new.example", "DNS:localhost"));
        Path certDir = ca.installAs("old", ca.dir.resolve("sd"));
        try (var s = Flows.start(2, Role.SERVER, "--no-ktls-check", "-D", certDir.toString())) {
            int[] f = new int[1];
            var ref = new EmulatedKernel.SessionRef[1];
            TlsSession before = serverConnect(s, null, f, ref);
            assertEquals("/CN=old.example", before.peer().subject());
            Files.copy(ca.cert("new"), certDir.resolve("cert.pem"), StandardCopyOption.REPLACE_EXISTING);
            Files.copy(ca.key("new"), certDir.resolve("certkey.pem"), StandardCopyOption.REPLACE_EXISTING);
            s.daemon().signal("HUP");
            s.daemon().awaitLine("reloaded certificate, key");
            TlsSession after = serverConnect(s, null, f, new EmulatedKernel.SessionRef[1]);
            assertEquals("/CN=new.example", after.peer().subject(), "new handshakes use the rotated certificate");
            assertFalse(seesEof(before, Duration.ofMillis(300)), "the established session stays");
            assertEquals(Rpctls.RPCTLSERR_OK, s.kernel().disconnect(Role.SERVER, ref[0]));
            // a broken file: logged, and the previous material stays in use
            Files.writeString(certDir.resolve("cert.pem"), "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n");
            s.daemon().signal("HUP");
            s.daemon().awaitLine("reload failed, keeping the current certificates and CRL: cannot load certificate");
            TlsSession third = serverConnect(s, null, f, new EmulatedKernel.SessionRef[1]);
            assertEquals("/CN=new.example", third.peer().subject());
            before.close();
            after.close();
            third.close();
        }
    }

    @Test
    void sighupReloadsEvenWhenTheDaemonWasStartedWithSighupIgnored() throws Exception {
        Path dir = Files.createTempDirectory(pki.base, "nohup");
        try (var kernel = new EmulatedKernel(dir, 2);
             var d = DaemonProcess.startIgnoringSighup(Role.SERVER, "-d", "--emulated-kernel=" + dir, "--upcall=netlink",
                     "--no-ktls-check", "-D", pki.serverDir.toString())) {
            d.awaitLine(" started: ");
            d.signal("HUP");
            d.awaitLine("reloaded certificate, key");
            assertTrue(d.isAlive(), "SIGHUP reloads, it does not end the daemon");
        }
    }

    @Test
    void pidfileRefusesASecondInstanceAndSigtermCleansUp() throws Exception {
        Path dir = Files.createTempDirectory(pki.base, "pid");
        Path pidfile = dir.resolve("servd.pid");
        try (var kernel = new EmulatedKernel(dir, 1);
             var first = DaemonProcess.startEmulated(Role.SERVER, dir, "--pidfile=" + pidfile, "-D", pki.serverDir.toString())) {
            assertEquals(String.valueOf(first.pid()), Files.readString(pidfile).trim());
            assertTrue(Files.exists(dir.resolve("rpc.tlsservd.sock")));
            try (var second = DaemonProcess.start(Role.SERVER, "-d", "--emulated-kernel=" + dir, "--pidfile=" + pidfile, "-D", pki.serverDir.toString())) {
                assertEquals(1, second.waitFor(Duration.ofSeconds(20)));
                assertTrue(second.hasLine("rpc.tlsservd: rpctlssd already running, pid: " + first.pid() + "."), second.log());
            }
            kernel.nullCall(Role.SERVER); // the first one is unharmed
            first.signal("TERM");
            assertEquals(0, first.waitFor(Duration.ofSeconds(10)));
            assertTrue(first.hasLine("terminating on SIGTERM"), first.log());
            assertFalse(Files.exists(pidfile), "pidfile removed");
            assertFalse(Files.exists(dir.resolve("rpc.tlsservd.sock")), "socket file removed");
        }
    }

    @Test
    void restartOrphansOldSessionIds() throws Exception {
        Path dir = Files.createTempDirectory(pki.base, "restart");
        try (var kernel = new EmulatedKernel(dir, 1); var loop = new Loopback()) {
            EmulatedKernel.SessionRef ref;
            try (var d = DaemonProcess.startEmulated(Role.SERVER, dir, "--no-ktls-check", "-D", pki.serverDir.toString())) {
                kernel.awaitDaemon(Role.SERVER, 1, Duration.ofSeconds(10));
                var s = new Flows.Setup(kernel, d, loop, dir);
                int[] f = new int[1];
                var r = new EmulatedKernel.SessionRef[1];
                serverConnect(s, null, f, r).close();
                ref = r[0];
                d.signal("TERM");
                assertEquals(0, d.waitFor(Duration.ofSeconds(10)));
            }
            try (var d = DaemonProcess.startEmulated(Role.SERVER, dir, "--no-ktls-check", "-D", pki.serverDir.toString())) {
                kernel.awaitDaemon(Role.SERVER, 1, Duration.ofSeconds(10));
                // v1 ids carry the daemon's start time: the new instance knows none of the old ones
                assertEquals(Rpctls.RPCTLSERR_NOCLOSE, kernel.disconnect(Role.SERVER, ref));
                assertEquals(Rpctls.RPCTLSERR_NOSSL, kernel.handleRecord(Role.SERVER, ref));
            }
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void handlerecordAndDisconnectNeverWaitBehindAHandshake(int version) throws Exception {
        try (var s = Flows.start(version, Role.SERVER, "--no-ktls-check", "--handshake-timeout=4", "-D", pki.serverDir.toString())) {
            int[] f = new int[1];
            var ref = new EmulatedKernel.SessionRef[1];
            TlsSession established = serverConnect(s, null, f, ref);
            // a client that connects and says nothing: its CONNECT occupies the daemon for 4 s
            SocketFd[] silent = Flows.tcpPair(s.loop());
            var stalled = Flows.inBackground(() -> s.kernel().serverConnect(silent[1]));
            Thread.sleep(300); // the stalled CONNECT is in the daemon now
            long t0 = System.nanoTime();
            assertEquals(Rpctls.RPCTLSERR_OK, s.kernel().disconnect(Role.SERVER, ref[0]));
            long disconnectMs = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(disconnectMs < 2000, "DISCONNECT took " + disconnectMs + " ms behind a stalled handshake");
            if (version == 2) {
                // no kernel serialisation in FreeBSD 15: another CONNECT completes meanwhile
                long t1 = System.nanoTime();
                serverConnect(s, null, f, new EmulatedKernel.SessionRef[1]).close();
                assertEquals(RpctlsFlags.HANDSHAKE, f[0]);
                assertTrue((System.nanoTime() - t1) / 1_000_000 < 3000, "second CONNECT waited for the stalled one");
            }
            var r = stalled.get(20, java.util.concurrent.TimeUnit.SECONDS);
            assertTrue(r.replied());
            assertEquals(RpctlsFlags.HANDSHFAIL, r.flags());
            s.daemon().awaitLine("handshake timed out after 4.0 s");
            silent[0].close();
            silent[1].close();
            established.close();
        }
    }
}
