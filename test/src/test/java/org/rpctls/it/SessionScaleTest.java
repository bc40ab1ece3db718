package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rpctls.emulator.EmulatedKernel;
import org.rpctls.rpc.Rpctls;
import org.rpctls.tls.Role;
import org.rpctls.tls.TlsContext;

/**
 * One rpc.tlsservd (version 2, whose CONNECTs run concurrently) holding 10,000 live sessions:
 * HANDLERECORD and DISCONNECT still work on them, and once all are disconnected the daemon's
 * descriptor count and session count are back at their baseline. Each session costs one
 * descriptor in the daemon and one in this JVM (the peer's; the kernel's copy of the socket is
 * closed after CONNECT, the daemon holds its own), so both stay under the default limit of
 * 20,000; the test checks the limits first and fails with the figures if they are too low.
 * -Drpctls.scale.sessions=N changes the count.
 */
class SessionScaleTest {
    static final int SESSIONS = Integer.getInteger("rpctls.scale.sessions", 10_000);
    static final int THREADS = 8;
    static final int SAMPLES = 50;

    static TestPki pki;

    @BeforeAll
    static void setUp() throws Exception {
        pki = TestPki.get();
    }

    /** The soft RLIMIT_NOFILE of process {@code pid} ("self" for this JVM), from /proc. */
    static long softFdLimit(String pid) throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/limits"))) {
            if (l.startsWith("Max open files")) {
                String v = l.substring("Max open files".length()).trim().split("\\s+")[0];
                return v.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(v);
            }
        }
        throw new AssertionError("no Max open files in /proc/" + pid + "/limits");
    }

    @Test
    void tenThousandLiveSessions() throws Exception {
        long needed = SESSIONS + 500L;
        long ownLimit = softFdLimit("self");
        assertTrue(ownLimit >= needed, "this JVM's descriptor limit " + ownLimit + " is below " + needed + " (ulimit -n)");
        Path dir = Files.createTempDirectory(pki.base, "scale");
        try (var kernel = new EmulatedKernel(dir, 2); var loop = new Loopback();
             var peerCtx = TlsContext.create(FaultTest.peerSettings(Role.SERVER));
             var d = DaemonProcess.startEmulated(Role.SERVER, dir, FaultTest.daemonArgs(Role.SERVER, "--upcall=netlink"))) {
            kernel.awaitDaemon(Role.SERVER, 1, Duration.ofSeconds(10));
            long daemonLimit = softFdLimit(String.valueOf(d.pid()));
            assertTrue(daemonLimit >= needed, "the daemon's descriptor limit " + daemonLimit + " is below " + needed);
            // warm up, then the baseline
            for (int i = 0; i < 3; i++) {
                FaultTest.Conn c = FaultTest.connect(kernel, loop, Role.SERVER, peerCtx);
                assertTrue(c.ok(), c.result());
                FaultTest.handleRecordAndDisconnect(kernel, d, Role.SERVER, c, "warm-up");
            }
            Thread.sleep(200);
            int baselineFds = FaultTest.openFds(d.pid());
            int ownBaseline = LeakTest.openFds();

            List<FaultTest.Conn> live = new CopyOnWriteArrayList<>();
            List<FaultTest.Conn> sampled = new CopyOnWriteArrayList<>();
            AtomicInteger next = new AtomicInteger();
            ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
            long t0 = System.nanoTime();
            runOnThreads(() -> {
                for (int i; (i = next.getAndIncrement()) < SESSIONS; ) {
                    try {
                        FaultTest.Conn c = FaultTest.connect(kernel, loop, Role.SERVER, peerCtx);
                        // the daemon holds its own descriptor; the kernel's copy is kept only for the sessions
                        // sampled below (HANDLERECORD waits on it for the record, as the kernel does)
                        if (i % (SESSIONS / SAMPLES) == 0) sampled.add(c);
                        else c.kernelSocket().close();
                        if (c.ok()) live.add(c);
                        else failures.add(c.result());
                    } catch (Exception e) {
                        failures.add(e.toString());
                    }
                }
            });
            long connectMs = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(List.of(), List.copyOf(failures).subList(0, Math.min(10, failures.size())), failures.size() + " CONNECTs failed");
            assertEquals(SESSIONS, live.size());
            int fullFds = FaultTest.openFds(d.pid());
            long rssKb = rssKb(d.pid());
            assertTrue(fullFds >= baselineFds + SESSIONS, "the daemon holds one descriptor per session: " + fullFds + " open, baseline " + baselineFds);

            // HANDLERECORD (a close_notify read and answered) and DISCONNECT on sessions spread over the whole run
            long t1 = System.nanoTime();
            for (FaultTest.Conn c : sampled) {
                assertTrue(c.ok(), c.result());
                FaultTest.handleRecordAndDisconnect(kernel, d, Role.SERVER, c, "one of " + SESSIONS + " sessions");
            }
            long sampleMs = (System.nanoTime() - t1) / 1_000_000;
            List<FaultTest.Conn> shuffled = new ArrayList<>(live);
            shuffled.removeAll(sampled);
            Collections.shuffle(shuffled, new Random(42));
            // DISCONNECT all the others
            List<FaultTest.Conn> rest = shuffled;
            AtomicInteger at = new AtomicInteger();
            AtomicInteger disconnected = new AtomicInteger(sampled.size());
            long t2 = System.nanoTime();
            runOnThreads(() -> {
                for (int i; (i = at.getAndIncrement()) < rest.size(); ) {
                    FaultTest.Conn c = rest.get(i);
                    try {
                        int r = kernel.disconnect(Role.SERVER, c.ref());
                        if (r == Rpctls.RPCTLSERR_OK) disconnected.incrementAndGet();
                        else failures.add("DISCONNECT " + Rpctls.errorName(r));
                    } catch (Exception e) {
                        failures.add(e.toString());
                    }
                    c.close();
                }
            });
            long disconnectMs = (System.nanoTime() - t2) / 1_000_000;
            assertEquals(SESSIONS, disconnected.get(), "DISCONNECTs: " + List.copyOf(failures).subList(0, Math.min(10, failures.size())));
            long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            int afterFds = FaultTest.openFds(d.pid());
            while (afterFds > baselineFds && System.nanoTime() < end) {
                Thread.sleep(100);
                afterFds = FaultTest.openFds(d.pid());
            }
            int ownAfter = LeakTest.openFds();
            d.signal("TERM");
            assertEquals(0, d.waitFor(Duration.ofSeconds(30)));
            String term = d.awaitLine(l -> l.contains("terminating on SIGTERM with"), Duration.ofSeconds(5));
            System.out.printf("SessionScaleTest: v2 rpc.tlsservd: %d sessions made in %d ms by %d threads; daemon fds %d -> %d -> %d, RSS %d MB "
                            + "at %d sessions; %d HANDLERECORD+DISCONNECT in %d ms; %d DISCONNECTs in %d ms; this JVM's fds %d -> %d; \"%s\"%n",
                    SESSIONS, connectMs, THREADS, baselineFds, fullFds, afterFds, rssKb / 1024, SESSIONS, sampled.size(), sampleMs, rest.size(),
                    disconnectMs, ownBaseline, ownAfter, term.replaceAll("^.*(terminating)", "$1"));
            assertEquals(baselineFds, afterFds, "the daemon's descriptors are back at the baseline");
            assertTrue(term.contains("with 0 live sessions"), term);
            assertTrue(ownAfter <= ownBaseline + 5, "the test's own descriptors: " + ownBaseline + " -> " + ownAfter);
        }
    }

    static long rssKb(long pid) throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (l.startsWith("VmRSS:")) return Long.parseLong(l.replaceAll("\\D", ""));
        }
        return -1;
    }

    static void runOnThreads(Runnable body) throws InterruptedException {
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < THREADS; i++) threads.add(Thread.ofPlatform().start(body));
        for (Thread t : threads) t.join();
    }
}
