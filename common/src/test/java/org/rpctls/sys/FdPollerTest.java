package org.rpctls.sys;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rpctls.ffi.LibC;

/** Both pollers: readiness, deadlines, interrupts, many waiters, repeated and concurrent waits on one descriptor. */
class FdPollerTest {
    private final List<Integer> open = new ArrayList<>();
    private FdPoller poller;

    @AfterEach
    void tearDown() {
        if (poller != null) poller.close();
        for (int fd : open) LibC.close(fd);
    }

    private FdPoller poller(String kind) {
        poller = kind.equals("epoll") ? new EpollPoller("test-epoll") : new PollPoller("test-poll");
        return poller;
    }

    /** A connected AF_UNIX stream pair, non-blocking. */
    private int[] pair() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sv = arena.allocate(JAVA_INT, 2);
            assertEquals(0, LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM, 0, sv));
            int[] fds = {sv.getAtIndex(JAVA_INT, 0), sv.getAtIndex(JAVA_INT, 1)};
            for (int fd : fds) open.add(fd);
            return fds;
        }
    }

    private static void writeByte(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            assertEquals(1, LibC.write(fd, arena.allocate(1), 1));
        }
    }

    private static long in(long millis) {
        return System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    }

    private static CompletableFuture<Short> awaitAsync(FdPoller p, int fd, short events, long deadline) {
        var f = new CompletableFuture<Short>();
        Thread.ofVirtual().start(() -> {
            try {
                f.complete(p.await(fd, events, deadline));
            } catch (Throwable t) {
                f.completeExceptionally(t);
            }
        });
        return f;
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "poll"})
    void readableOnceDataArrives(String kind) throws Exception {
        FdPoller p = poller(kind);
        int[] s = pair();
        var f = awaitAsync(p, s[0], LibC.POLLIN, in(10_000));
        Thread.sleep(50);
        assertTrue(!f.isDone(), "ready before any data was written");
        writeByte(s[1]);
        assertTrue((f.get(10, TimeUnit.SECONDS) & LibC.POLLIN) != 0);
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "poll"})
    void writableAtOnce(String kind) throws Exception { // answered by the ready-now check
        int[] s = pair();
        assertTrue((poller(kind).await(s[0], LibC.POLLOUT, in(10_000)) & LibC.POLLOUT) != 0);
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "poll"})
    void deadlinePasses(String kind) {
        int[] s = pair();
        FdPoller p = poller(kind);
        long t0 = System.nanoTime();
        assertThrows(TimeoutException.class, () -> p.await(s[0], LibC.POLLIN, in(200)));
        assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(190), "returned before the deadline");
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "poll"})
    void hangUpIsReported(String kind) throws Exception {
        FdPoller p = poller(kind);
        int[] s = pair();
        var f = awaitAsync(p, s[0], LibC.POLLIN, in(10_000));
        LibC.shutdown(s[1], LibC.SHUT_RDWR);
        assertTrue(f.get(10, TimeUnit.SECONDS) != 0);
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "poll"})
    void interruptEndsTheWait(String kind) throws Exception {
        FdPoller p = poller(kind);
        int[] s = pair();
        var f = new CompletableFuture<Throwable>();
        Thread t = Thread.ofVirtual().start(() -> {
            try {
                p.await(s[0], LibC.POLLIN, in(30_000));
                f.complete(null);
            } catch (Throwable e) {
                f.complete(e);
            }
        });
        Thread.sleep(50);
        t.interrupt();
        assertTrue(f.get(10, TimeUnit.SECONDS) instanceof InterruptedException);
        // the descriptor can be waited on again at once
        writeByte(s[1]);
        assertTrue((p.await(s[0], LibC.POLLIN, in(10_000)) & LibC.POLLIN) != 0);
    }

    /** 300 waiters at once: the written half becomes ready, the rest time out; nobody is woken for another's descriptor. */
    @ParameterizedTest
    @ValueSource(strings = {"epoll", "poll"})
    void manyWaiters(String kind) throws Exception {
        FdPoller p = poller(kind);
        int n = 300;
        List<int[]> pairs = new ArrayList<>();
        List<CompletableFuture<Short>> waits = new ArrayList<>();
        long deadline = in(1500);
        for (int i = 0; i < n; i++) {
            int[] s = pair();
            pairs.add(s);
            waits.add(awaitAsync(p, s[0], LibC.POLLIN, deadline));
        }
        for (int i = 0; i < n; i += 2) writeByte(pairs.get(i)[1]);
        for (int i = 0; i < n; i++) {
            if (i % 2 == 0) {
                assertTrue((waits.get(i).get(10, TimeUnit.SECONDS) & LibC.POLLIN) != 0, "waiter " + i);
            } else {
                var e = assertThrows(java.util.concurrent.ExecutionException.class, waits.get(i)::get, "waiter " + i);
                assertTrue(e.getCause() instanceof TimeoutException, "waiter " + i + ": " + e.getCause());
            }
        }
    }

    /** One descriptor waited on again and again (a handshake's several waits): each registration is removed after use. */
    @ParameterizedTest
    @ValueSource(strings = {"epoll", "poll"})
    void sameDescriptorAgainAndAgain(String kind) throws Exception {
        FdPoller p = poller(kind);
        int[] s = pair();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(16);
            for (int i = 0; i < 200; i++) {
                // registered first, ready later: the wait goes through the loop, not the ready-now check
                var f = awaitAsync(p, s[0], LibC.POLLIN, in(10_000));
                Thread.sleep(2);
                writeByte(s[1]);
                assertTrue((f.get(10, TimeUnit.SECONDS) & LibC.POLLIN) != 0);
                assertEquals(1, LibC.read(s[0], buf, buf.byteSize()));
                assertThrows(TimeoutException.class, () -> p.await(s[0], LibC.POLLIN, in(1)));
            }
        }
        if (p instanceof EpollPoller e) assertEquals(0, e.fallbacks(), "a registration was left behind (EEXIST)");
    }

    /** Two threads on one descriptor: epoll refuses the second registration, which the poll(2) fallback serves. */
    @ParameterizedTest
    @ValueSource(strings = {"epoll", "poll"})
    void twoWaitersOnOneDescriptor(String kind) throws Exception {
        FdPoller p = poller(kind);
        int[] s = pair();
        var a = awaitAsync(p, s[0], LibC.POLLIN, in(10_000));
        Thread.sleep(50);
        var b = awaitAsync(p, s[0], LibC.POLLIN, in(10_000));
        Thread.sleep(50);
        writeByte(s[1]);
        assertTrue((a.get(10, TimeUnit.SECONDS) & LibC.POLLIN) != 0);
        assertTrue((b.get(10, TimeUnit.SECONDS) & LibC.POLLIN) != 0);
        if (p instanceof EpollPoller e) assertEquals(1, e.fallbacks());
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "poll"})
    void closedDescriptorIsReportedNotWaitedOn(String kind) throws Exception {
        FdPoller p = poller(kind);
        int[] s = pair();
        LibC.close(s[0]);
        open.remove((Integer) s[0]);
        short r = p.await(s[0], LibC.POLLIN, in(5_000));
        assertTrue((r & LibC.POLLNVAL) != 0, "revents " + r);
    }

    @org.junit.jupiter.api.Test
    void linuxUsesEpoll() {
        assertEquals(LibC.FREEBSD ? "poll" : "epoll", FdPoller.sharedKind());
    }

    /** The handshake's direct wait: blocks up to its limit, returns as soon as the descriptor is ready. */
    @org.junit.jupiter.api.Test
    void readyWithinWaitsAtMostItsLimitAndWakesOnData() throws Exception {
        int[] fds = pair();
        long t0 = System.nanoTime();
        assertEquals(0, FdPoller.readyWithin(fds[0], LibC.POLLIN, 50));
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        org.junit.jupiter.api.Assertions.assertTrue(waited >= 40, "returned after " + waited + " ms, before its 50 ms");
        Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                return;
            }
            writeByte(fds[1]);
        });
        short r = FdPoller.readyWithin(fds[0], LibC.POLLIN, 10_000);
        org.junit.jupiter.api.Assertions.assertTrue((r & LibC.POLLIN) != 0, "revents " + r);
    }
}
