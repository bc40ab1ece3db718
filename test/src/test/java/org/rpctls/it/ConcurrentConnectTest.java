package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.rpctls.emulator.EmulatedKernel;
import org.rpctls.sys.SocketFd;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.Role;
import org.rpctls.tls.RpctlsFlags;
import org.rpctls.tls.TlsContext;
import org.rpctls.tls.TlsSession;
import org.rpctls.tls.TlsSettings;

/**
 * Many server CONNECTs at once right after start-up, as after a reboot with many NFS clients.
 * Regression: the emulated kernel's socket claims ran concurrently with blocking
 * connect/recvmsg, which pinned every carrier thread while the (sequential) socket broker waited
 * for a claim that had no carrier left; the daemon hung (found by tools/bench-storm).
 */
class ConcurrentConnectTest {
    static TestPki pki;

    @BeforeAll
    static void setUp() throws Exception {
        pki = TestPki.get();
    }

    /**
     * Both socket hand-overs: the claim table (one pidfd_getfd per socket, as FreeBSD's one
     * rpctls_syscall) and the Unix-socket broker, where the regression above was found and which
     * daemons fall back to.
     */
    @ParameterizedTest(name = "version {0}, {1}")
    @CsvSource({"1, TABLE", "2, TABLE", "1, BROKER", "2, BROKER"})
    void aBurstOfConnectsRightAfterStartAllComplete(int version, EmulatedKernel.Handover handover) throws Exception {
        int n = 24;
        try (var s = Flows.start(version, Role.SERVER, handover, "--no-ktls-check", "-D", pki.serverDir.toString());
             var ctx = TlsContext.create(TlsSettings.defaults(Role.CLIENT).withCertDir(pki.clientDir).withOwnCert(false));
             var exec = Executors.newVirtualThreadPerTaskExecutor()) {
            List<SocketFd[]> pairs = new ArrayList<>();
            for (int i = 0; i < n; i++) pairs.add(Flows.tcpPair(s.loop()));
            List<CompletableFuture<TlsSession>> peers = new ArrayList<>();
            List<Future<EmulatedKernel.ServerResult>> results = new ArrayList<>();
            for (SocketFd[] pair : pairs) {
                peers.add(Flows.engineHandshake(ctx, pair[0], Handshaker.Request.defaults().withTimeout(java.time.Duration.ofSeconds(60))));
                results.add(exec.submit(() -> s.kernel().serverConnect(pair[1])));
            }
            int done = 0;
            for (var r : results) {
                var result = r.get(90, TimeUnit.SECONDS);
                assertTrue(result.replied(), "every CONNECT is answered within the kernel's timeout:\n" + s.daemon().log());
                assertEquals(RpctlsFlags.HANDSHAKE, result.flags());
                done++;
            }
            assertEquals(n, done);
            assertEquals(n, s.kernel().claims(), "each socket claimed once");
            boolean table = handover == EmulatedKernel.Handover.TABLE && Flows.pidfdHandoverPossible();
            assertTrue(s.daemon().hasLine(table ? Flows.TABLE_LINE : Flows.BROKER_LINE), "the hand-over used:\n" + s.daemon().log());
            for (var p : peers) Flows.get(p).close();
            for (SocketFd[] pair : pairs) {
                pair[0].close();
                pair[1].close();
            }
        }
    }
}
