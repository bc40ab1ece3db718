package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rpctls.rpc.Rpctls;
import org.rpctls.tls.Role;
import org.rpctls.tls.TlsContext;
import org.rpctls.tls.TlsSettings;

/**
 * SIGHUP every second while handshakes run without pause on several threads (DaemonOpsTest has
 * the single reloads): unchanged files, then a broken certificate file, then a new certificate.
 * No handshake may fail because of a reload, no session may be lost, the broken file is logged
 * and the old certificate kept, and the new certificate is picked up.
 */
class ReloadUnderLoadTest {
    static TestPki pki;

    @BeforeAll
    static void setUp() throws Exception {
        pki = TestPki.get();
    }

    enum Phase { UNCHANGED, BROKEN, ROTATED }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void sighupEverySecondUnderLoad(int version) throws Exception {
        final int workers = 4;
        final int hupsPerPhase = 3;
        Pki ca = Pki.create(Files.createTempDirectory(pki.base, "hupload"), "hupload");
        ca.issue("old", Pki.Spec.server("old.example", "DNS:localhost"));
        ca.issue("new", Pki.Spec.server("new.example", "DNS:localhost"));
        Path certDir = ca.installAs("old", ca.dir.resolve("sd"));
        try (var s = Flows.start(version, Role.SERVER, "-v", "--no-ktls-check", "-D", certDir.toString());
             var peerCtx = TlsContext.create(TlsSettings.defaults(Role.CLIENT).withCertDir(pki.clientDir))) {
            // sessions made before any reload: they must survive all of them
            List<FaultTest.Conn> kept = new CopyOnWriteArrayList<>();
            for (int i = 0; i < 3; i++) {
                FaultTest.Conn c = FaultTest.connect(s.kernel(), s.loop(), Role.SERVER, peerCtx);
                assertTrue(c.ok(), c.result());
                kept.add(c);
            }
            AtomicReference<Phase> phase = new AtomicReference<>(Phase.UNCHANGED);
            AtomicInteger handshakes = new AtomicInteger();
            AtomicInteger failures = new AtomicInteger();
            List<String> failureDetails = new CopyOnWriteArrayList<>();
            Map<String, AtomicInteger> subjectsWhileBroken = new ConcurrentHashMap<>();
            var stop = new java.util.concurrent.atomic.AtomicBoolean();
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                threads.add(Thread.ofPlatform().name("load-" + w).start(() -> {
                    int n = 0;
                    while (!stop.get()) {
                        Phase at = phase.get();
                        try {
                            FaultTest.Conn c = FaultTest.connect(s.kernel(), s.loop(), Role.SERVER, peerCtx);
                            handshakes.incrementAndGet();
                            if (!c.ok()) {
                                failures.incrementAndGet();
                                failureDetails.add(c.result());
                                c.close();
                                continue;
                            }
                            if (at == Phase.BROKEN && phase.get() == Phase.BROKEN) {
                                subjectsWhileBroken.computeIfAbsent(c.peer().peer().subject(), k -> new AtomicInteger()).incrementAndGet();
                            }
                            if (++n % 5 == 0) {
                                kept.add(c); // some stay open across later reloads
                            } else {
                                int r = s.kernel().disconnect(Role.SERVER, c.ref());
                                if (r != Rpctls.RPCTLSERR_OK) {
                                    failures.incrementAndGet();
                                    failureDetails.add("DISCONNECT " + Rpctls.errorName(r));
                                }
                                c.close();
                            }
                        } catch (Exception e) {
                            failures.incrementAndGet();
                            failureDetails.add(e.toString());
                        }
                    }
                }));
            }
            int hups = 0;
            long reloadedBefore = FaultTest.count(s.daemon(), "reloaded certificate, key");
            for (int i = 0; i < hupsPerPhase; i++, hups++) {
                Thread.sleep(1000);
                s.daemon().signal("HUP");
            }
            // a broken certificate file: each reload fails, is logged, and the old material stays
            Thread.sleep(1000);
            long failedBefore = FaultTest.count(s.daemon(), "reload failed, keeping the current certificates and CRL");
            Files.writeString(certDir.resolve("cert.pem"), "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n");
            phase.set(Phase.BROKEN);
            for (int i = 0; i < hupsPerPhase; i++, hups++) {
                s.daemon().signal("HUP");
                Thread.sleep(1000);
            }
            long failedReloads = FaultTest.count(s.daemon(), "reload failed, keeping the current certificates and CRL") - failedBefore;
            // a good new certificate: the key first, then the certificate, each replaced atomically
            Path tmpKey = certDir.resolve("certkey.pem.new");
            Path tmpCert = certDir.resolve("cert.pem.new");
            Files.copy(ca.key("new"), tmpKey, StandardCopyOption.REPLACE_EXISTING);
            Files.copy(ca.cert("new"), tmpCert, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmpKey, certDir.resolve("certkey.pem"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Files.move(tmpCert, certDir.resolve("cert.pem"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            phase.set(Phase.ROTATED);
            for (int i = 0; i < hupsPerPhase; i++, hups++) {
                s.daemon().signal("HUP");
                Thread.sleep(1000);
            }
            stop.set(true);
            for (Thread t : threads) t.join(60_000);
            long reloaded = FaultTest.count(s.daemon(), "reloaded certificate, key") - reloadedBefore;

            assertEquals(0, failures.get(), "handshakes or DISCONNECTs failed during reloads: " + failureDetails + "\n" + s.daemon().log());
            assertTrue(failedReloads >= 1, "the broken certificate file is reported\n" + s.daemon().log());
            assertTrue(s.daemon().hasLine("cannot load certificate"), s.daemon().log());
            assertEquals(java.util.Set.of("/CN=old.example"), subjectsWhileBroken.keySet(),
                    "while the file was broken every handshake used the old certificate (and some ran): " + subjectsWhileBroken);
            assertTrue(reloaded >= 2, "the unchanged and the rotated files were reloaded: " + reloaded + " reloads");
            FaultTest.Conn after = FaultTest.connect(s.kernel(), s.loop(), Role.SERVER, peerCtx);
            assertTrue(after.ok(), after.result());
            assertEquals("/CN=new.example", after.peer().peer().subject(), "the new certificate is in use");
            FaultTest.handleRecordAndDisconnect(s.kernel(), s.daemon(), Role.SERVER, after, "session after the rotation");
            // no session lost: every one kept open across the reloads still works
            for (FaultTest.Conn c : kept) FaultTest.handleRecordAndDisconnect(s.kernel(), s.daemon(), Role.SERVER, c, "session kept across reloads");
            System.out.printf("ReloadUnderLoadTest: v%d: %d SIGHUPs (1 s apart) under %d handshake threads: %d handshakes, %d failed; "
                            + "%d reloads done, %d refused (broken file, old certificate kept, %s handshakes meanwhile); "
                            + "%d sessions kept across reloads, all HANDLERECORD+DISCONNECT ok%n",
                    version, hups, workers, handshakes.get(), failures.get(), reloaded, failedReloads, subjectsWhileBroken, kept.size());
        }
    }
}
