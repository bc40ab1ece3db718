package org.rpctls.emulator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.SystemCallException;
import org.rpctls.sys.SocketFd;
import org.rpctls.upcall.BrokerSocketSource;
import org.rpctls.upcall.ClaimTable;
import org.rpctls.upcall.EmulatedSocketSource;

/**
 * The emulated rpctls_syscall: the claim table (DIR/broker.tab, one pidfd_getfd per socket) and
 * the broker (DIR/broker.sock) share one table, so a socket is handed out once whichever way a
 * daemon asks; a withdrawal never frees a descriptor under a claim in progress; failures read as
 * they did with the broker alone (EPERM for an unknown cookie, EMFILE when the claimer has no
 * descriptor left).
 */
class HandoverTest {
    @TempDir
    Path dir;

    /** A connected pair: [0] offered to the daemon (the kernel's socket), [1] the other end. */
    private static SocketFd[] pair() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(ValueLayout.JAVA_INT, 2);
            if (LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM, 0, fds) < 0) throw SystemCallException.lastError("socketpair");
            return new SocketFd[] {SocketFd.adopt(fds.getAtIndex(ValueLayout.JAVA_INT, 0)), SocketFd.adopt(fds.getAtIndex(ValueLayout.JAVA_INT, 1))};
        }
    }

    /** Proves that {@code claimed} is the offered socket: a byte written on it arrives at {@code other}. */
    private static void assertSameSocket(SocketFd claimed, SocketFd other, int b) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(1);
            buf.set(ValueLayout.JAVA_BYTE, 0, (byte) b);
            assertEquals(1, LibC.write(claimed.fd(), buf, 1));
            buf.set(ValueLayout.JAVA_BYTE, 0, (byte) 0);
            MemorySegment pfd = arena.allocate(8, 4); // struct pollfd
            pfd.set(ValueLayout.JAVA_INT, 0, other.fd());
            pfd.set(ValueLayout.JAVA_SHORT, 4, LibC.POLLIN);
            assertEquals(1, LibC.poll(pfd, 1, 5000), "a byte arrives on the other end (else it went to another socket)");
            assertEquals(1, LibC.read(other.fd(), buf, 1));
            assertEquals((byte) b, buf.get(ValueLayout.JAVA_BYTE, 0), "the claimed descriptor is the offered socket");
        }
    }

    @Test
    void theTableIsUsedWhenPublishedAndNotWhenTheBrokerIsForced() throws Exception {
        try (var broker = new SocketBroker(dir, true)) {
            assertTrue(Files.exists(dir.resolve(ClaimTable.FILE_NAME)));
            var source = new EmulatedSocketSource(dir);
            assertTrue(source.usesClaimTable(), source.describe());
        }
        assertFalse(Files.exists(dir.resolve(ClaimTable.FILE_NAME)), "the emulator removes its table");
        Path other = Files.createDirectory(dir.resolve("b"));
        Files.writeString(other.resolve(ClaimTable.FILE_NAME), "left over"); // an old table must not be used
        try (var broker = new SocketBroker(other, false)) {
            assertFalse(Files.exists(other.resolve(ClaimTable.FILE_NAME)));
            var source = new EmulatedSocketSource(other);
            assertFalse(source.usesClaimTable(), source.describe());
            assertTrue(source.describe().contains("through the broker"), source.describe());
            // and the broker path works
            SocketFd[] p = pair();
            broker.offer(0x4200, p[0]);
            try (SocketFd got = source.claim(0x4200)) {
                assertSameSocket(got, p[1], 7);
            }
            assertFalse(broker.withdraw(0x4200), "claimed");
            assertEquals(1, broker.claims());
            p[0].close();
            p[1].close();
        }
    }

    @Test
    void anUnknownOrAlreadyClaimedCookieIsEpermOnBothPaths() throws Exception {
        try (var broker = new SocketBroker(dir, true)) {
            var table = new EmulatedSocketSource(dir);
            var viaBroker = new BrokerSocketSource(dir.resolve("broker.sock"));
            for (var source : List.of(table, viaBroker)) {
                var e = assertThrows(SystemCallException.class, () -> source.claim(0xdead00L));
                assertEquals(LibC.EPERM, e.errno());
                assertTrue(e.getMessage().startsWith("rpctls_syscall (emulated, cookie 0xdead00)"), e.getMessage());
            }
            SocketFd[] p = pair();
            broker.offer(0x100, p[0]);
            table.claim(0x100).close();
            for (var source : List.of(table, viaBroker)) {
                var e = assertThrows(SystemCallException.class, () -> source.claim(0x100));
                assertEquals(LibC.EPERM, e.errno(), "a socket is handed over once");
            }
            // withdrawn: gone too
            broker.offer(0x200, p[0]);
            assertTrue(broker.withdraw(0x200));
            assertEquals(LibC.EPERM, assertThrows(SystemCallException.class, () -> table.claim(0x200)).errno());
            assertEquals(1, broker.claims());
            p[0].close();
            p[1].close();
        }
    }

    /** Claimers race for one cookie, through the table and through the broker: exactly one gets the socket, every round. */
    @Test
    void exactlyOneOfRacingClaimersWins() throws Exception {
        final int rounds = 300;
        final int claimers = 6; // 4 by pidfd_getfd, 2 through the broker
        try (var broker = new SocketBroker(dir, true)) {
            var table = new EmulatedSocketSource(dir);
            assertTrue(table.usesClaimTable(), table.describe());
            var viaBroker = new BrokerSocketSource(dir.resolve("broker.sock"));
            for (int round = 0; round < rounds; round++) {
                long cookie = 0xfffff80000000000L + round * 0x100L;
                SocketFd[] p = pair();
                broker.offer(cookie, p[0]);
                CountDownLatch go = new CountDownLatch(1);
                AtomicInteger eperm = new AtomicInteger();
                List<SocketFd> won = java.util.Collections.synchronizedList(new ArrayList<>());
                AtomicReference<Throwable> other = new AtomicReference<>();
                List<Thread> threads = new ArrayList<>();
                for (int i = 0; i < claimers; i++) {
                    var source = i < 4 ? table : viaBroker;
                    threads.add(Thread.ofPlatform().start(() -> {
                        try {
                            go.await();
                            won.add(source.claim(cookie));
                        } catch (SystemCallException e) {
                            if (e.errno() == LibC.EPERM) eperm.incrementAndGet();
                            else other.set(e);
                        } catch (Throwable t) {
                            other.set(t);
                        }
                    }));
                }
                go.countDown();
                for (Thread t : threads) t.join(10_000);
                assertEquals(null, other.get(), "round " + round);
                assertEquals(1, won.size(), "round " + round + ": one winner");
                assertEquals(claimers - 1, eperm.get(), "round " + round + ": the others see EPERM");
                assertFalse(broker.withdraw(cookie), "round " + round + ": the socket was claimed");
                assertSameSocket(won.getFirst(), p[1], round);
                won.getFirst().close();
                p[0].close();
                p[1].close();
            }
            assertEquals(rounds, broker.claims());
        }
    }

    /**
     * rpctls_rpc_failed against a claim: the withdrawal wins (true, and the claim fails with
     * EPERM) or the claim does (false, and the claimer has the socket, even after the test closed
     * its own descriptor and the numbers were reused).
     */
    @Test
    void withdrawalAndClaimRaceWithOneOutcome() throws Exception {
        final int rounds = 400;
        int withdrawn = 0;
        int claimed = 0;
        var random = new java.util.Random(1);
        try (var broker = new SocketBroker(dir, true)) {
            var table = new EmulatedSocketSource(dir);
            for (int round = 0; round < rounds; round++) {
                long cookie = 0x1000L + round * 0x100L;
                SocketFd[] p = pair();
                broker.offer(cookie, p[0]);
                AtomicReference<Object> got = new AtomicReference<>();
                java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean();
                Thread claimer = Thread.ofPlatform().start(() -> {
                    try {
                        running.set(true);
                        got.set(table.claim(cookie));
                    } catch (Throwable t) {
                        got.set(t);
                    }
                });
                // even rounds: withdraw at once (mostly first); odd rounds: once the claimer runs, after 0-20 µs (mostly second)
                if (round % 2 == 1) {
                    while (!running.get()) Thread.onSpinWait();
                    long until = System.nanoTime() + random.nextInt(20_000);
                    while (System.nanoTime() < until) Thread.onSpinWait();
                }
                boolean w = broker.withdraw(cookie);
                // what the kernel does next: closes its socket, and the numbers get reused
                p[0].close();
                SocketFd[] reuse = pair();
                claimer.join(10_000);
                Object r = got.get();
                if (w) {
                    withdrawn++;
                    assertTrue(r instanceof SystemCallException e && e.errno() == LibC.EPERM, "round " + round + ": withdrawn, so EPERM: " + r);
                } else {
                    claimed++;
                    assertTrue(r instanceof SocketFd, "round " + round + ": not withdrawn, so claimed: " + r);
                    try (SocketFd fd = (SocketFd) r) {
                        assertSameSocket(fd, p[1], round);
                    }
                }
                reuse[0].close();
                reuse[1].close();
                p[1].close();
            }
            assertEquals(claimed, broker.claims());
        }
        System.out.printf("HandoverTest: withdrawal vs claim, %d rounds: %d withdrawn first, %d claimed first%n", rounds, withdrawn, claimed);
        assertTrue(withdrawn > 0 && claimed > 0, "both outcomes occurred: " + withdrawn + " withdrawn, " + claimed + " claimed");
    }

    /** A withdrawal waits for a claim in progress, gives up on a stuck one, and ends the claim of a claimer that died. */
    @Test
    void withdrawalWaitsForAClaimInProgress() throws Exception {
        ClaimTable t = ClaimTable.inMemory(LibC.getpid());
        var o = t.offer(0x300, 1234);
        int slot = t.claim(0x300, LibC.getpid());
        assertTrue(slot >= 0);
        assertEquals(1234, t.fd(slot));
        assertEquals(-1, t.claim(0x300, LibC.getpid()), "held by a claimer");
        AtomicReference<ClaimTable.Withdrawn> result = new AtomicReference<>();
        Thread w = Thread.ofPlatform().start(() -> result.set(t.withdraw(o, Duration.ofSeconds(10))));
        Thread.sleep(200);
        assertTrue(w.isAlive(), "waits while the claim is in progress");
        t.finish(slot);
        w.join(5_000);
        assertEquals(ClaimTable.Withdrawn.CLAIMED, result.get());
        assertEquals(1, t.claims());

        var stuck = t.offer(0x400, 1235);
        assertTrue(t.claim(0x400, LibC.getpid()) >= 0);
        long t0 = System.nanoTime();
        assertEquals(ClaimTable.Withdrawn.CLAIM_STUCK, t.withdraw(stuck, Duration.ofMillis(100)));
        assertTrue(System.nanoTime() - t0 >= 100_000_000L, "waited");

        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        var dead = t.offer(0x500, 1236);
        assertTrue(t.claim(0x500, (int) gone.pid()) >= 0);
        assertEquals(ClaimTable.Withdrawn.CLAIMED, t.withdraw(dead, Duration.ofSeconds(10)), "the dead claimer's claim is over");
        var again = t.offer(0x600, 1237);
        assertEquals(ClaimTable.Withdrawn.UNCLAIMED, t.withdraw(again, Duration.ofSeconds(1)));
    }

    /** Offers far past their hash slot (a crowded table) are still found; a freed slot is reused. */
    @Test
    void crowdedTableFindsEveryOffer() {
        ClaimTable t = ClaimTable.inMemory(LibC.getpid());
        List<ClaimTable.Offer> offers = new ArrayList<>();
        for (int i = 0; i < ClaimTable.SLOTS; i++) offers.add(t.offer(i * 0x100L, i));
        assertThrows(IllegalStateException.class, () -> t.offer(-1L, -1));
        for (int i = ClaimTable.SLOTS - 1; i >= 0; i -= 7) {
            int slot = t.claim(i * 0x100L, 1);
            assertTrue(slot >= 0, "offer " + i);
            assertEquals(i, t.fd(slot));
            t.finish(slot);
        }
        assertEquals(-1, t.claim(-0x100L, 1));
        for (int i = 0; i < ClaimTable.SLOTS; i++) {
            assertEquals(i % 7 == (ClaimTable.SLOTS - 1) % 7 ? ClaimTable.Withdrawn.CLAIMED : ClaimTable.Withdrawn.UNCLAIMED,
                    t.withdraw(offers.get(i), Duration.ZERO), "offer " + i);
        }
        var o = t.offer(42, 42);
        assertEquals(ClaimTable.Withdrawn.UNCLAIMED, t.withdraw(o, Duration.ZERO));
    }

    // ---------------------------------------------------------------- another process, out of descriptors

    /**
     * A daemon-side claimer in its own JVM (so pidfd_getfd copies across processes, as the
     * daemons do): reads cookies (hex) from stdin, claims each and answers "ok" (the claimed
     * socket is written a byte, then closed) or "errno N message".
     */
    public static final class Claimer {
        public static void main(String[] args) throws Exception {
            var source = new EmulatedSocketSource(Path.of(args[0]));
            PrintStream out = System.out;
            out.println("ready " + source.usesClaimTable() + " " + source.describe());
            out.flush();
            var in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment b = arena.allocate(1);
                b.set(ValueLayout.JAVA_BYTE, 0, (byte) 'x');
                for (String l; (l = in.readLine()) != null; ) {
                    try {
                        SocketFd fd = source.claim(Long.parseUnsignedLong(l.trim(), 16));
                        LibC.write(fd.fd(), b, 1);
                        fd.close();
                        out.println("ok");
                    } catch (SystemCallException e) {
                        out.println("errno " + e.errno() + " " + e.getMessage());
                    }
                    out.flush();
                }
            }
        }
    }

    @Test
    void aClaimerOutOfDescriptorsGetsEmfileAndTheSocketIsGone() throws Exception {
        try (var broker = new SocketBroker(dir, true)) {
            String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
            Path java = Path.of(System.getProperty("java.home"), "bin", "java");
            Process child = new ProcessBuilder(java.toString(), "--enable-native-access=ALL-UNNAMED", "-cp", cp,
                    Claimer.class.getName(), dir.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            try {
                var in = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
                var out = new PrintStream(child.getOutputStream(), true, StandardCharsets.UTF_8);
                String ready = in.readLine();
                assertEquals("ready true", ready == null ? null : ready.substring(0, Math.min(ready.length(), 10)), ready);
                // across processes: one socket by pidfd_getfd, then an unknown cookie (also loads the failure path's classes)
                SocketFd[] p = pair();
                broker.offer(0x7700, p[0]);
                out.println("7700");
                assertEquals("ok", in.readLine());
                assertFalse(broker.withdraw(0x7700));
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment b = arena.allocate(1);
                    assertEquals(1, LibC.read(p[1].fd(), b, 1));
                    assertEquals('x', b.get(ValueLayout.JAVA_BYTE, 0), "the other process had the socket");
                }
                out.println("7800");
                assertEquals("errno " + LibC.EPERM + " rpctls_syscall (emulated, cookie 0x7800)", in.readLine().replaceAll(":.*", ""));
                // RLIMIT_NOFILE 3: 0, 1 and 2 are open, so no new descriptor fits (FaultTest's way)
                Process limit = new ProcessBuilder("prlimit", "--pid", String.valueOf(child.pid()), "--nofile=3:").redirectErrorStream(true).start();
                String why = new String(limit.getInputStream().readAllBytes());
                assertEquals(0, limit.waitFor(), "prlimit: " + why);
                broker.offer(0x7900, p[0]);
                int claimsBefore = broker.claims();
                out.println("7900");
                String answer = in.readLine();
                assertEquals("errno " + LibC.EMFILE + " rpctls_syscall (emulated, cookie 0x7900): the socket's descriptor could not be received: "
                        + LibC.strerror(LibC.EMFILE) + " (errno " + LibC.EMFILE + ")", answer);
                // as the kernel's lookup did before falloc failed: the socket left the tree
                assertEquals(claimsBefore + 1, broker.claims());
                assertFalse(broker.withdraw(0x7900), "the socket counts as taken");
                p[0].close();
                p[1].close();
            } finally {
                child.destroy();
                assertTrue(child.waitFor(10, TimeUnit.SECONDS));
            }
        }
    }

    @Test
    void cookiesAreHashedApart() {
        // the emulator's cookies differ by 0x100: probing from one slot would make every lookup a scan
        ClaimTable t = ClaimTable.inMemory(LibC.getpid());
        for (int i = 0; i < 1000; i++) t.offer(0xfffff80012340000L + i * 0x100L, i);
        assertTrue(t.longestProbe() < 32, "longest probe " + t.longestProbe());
    }
}
