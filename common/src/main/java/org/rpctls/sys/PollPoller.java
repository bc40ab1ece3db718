package org.rpctls.sys;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.SystemCallException;

/**
 * The portable {@link FdPoller}: one platform thread runs poll(2) over every waiting
 * descriptor. Each new waiter wakes the loop through a pipe, and each round hands the whole
 * table to the kernel again, so it costs O(waiters) per wake-up; {@link EpollPoller} avoids
 * both on Linux. This one serves FreeBSD (no epoll; kqueue not written) and is the fallback
 * where epoll refuses a descriptor.
 */
public final class PollPoller implements FdPoller {

    private record Waiter(int fd, short events, long deadlineNanos, CompletableFuture<Short> result) {}

    private final ConcurrentLinkedQueue<Waiter> incoming = new ConcurrentLinkedQueue<>();
    private final int wakeRead;
    private final int wakeWrite;
    private final Thread thread;
    private volatile boolean closed;

    public PollPoller(String name) {
        int[] wake = PollerThreads.wakePipe();
        wakeRead = wake[0];
        wakeWrite = wake[1];
        thread = PollerThreads.start(name, this::run);
    }

    @Override
    public short await(int fd, short events, long deadlineNanos) throws TimeoutException, InterruptedException {
        if (closed) throw new IllegalStateException("poller closed");
        short now = FdPoller.readyNow(fd, events);
        if (now != 0) return now;
        var w = new Waiter(fd, events, deadlineNanos, new CompletableFuture<>());
        incoming.add(w);
        wake();
        try {
            // the loop enforces the deadline; this is a backstop should the loop thread ever die
            long left = Math.max(0, deadlineNanos - System.nanoTime()) + java.util.concurrent.TimeUnit.SECONDS.toNanos(5);
            return w.result().get(left, java.util.concurrent.TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TimeoutException t) throw t;
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            // The loop drops cancelled waiters; nothing else refers to the descriptor.
            w.result().cancel(false);
            wake();
            throw e;
        }
    }

    private void wake() {
        try (Arena arena = Arena.ofConfined()) {
            // EAGAIN means the pipe is already full of wake-ups: the loop will run anyway.
            LibC.write(wakeWrite, arena.allocate(1), 1);
        }
    }

    private void run() {
        List<Waiter> waiting = new ArrayList<>();
        Arena arena = Arena.ofConfined();
        MemorySegment drain = arena.allocate(512);
        int capacity = 64;
        Arena tableArena = Arena.ofConfined();
        MemorySegment pollfds = tableArena.allocate(LibC.POLLFD, capacity);
        long size = LibC.POLLFD.byteSize();
        while (!closed) {
            for (Waiter w; (w = incoming.poll()) != null; ) waiting.add(w);
            long now = System.nanoTime();
            long nearest = Long.MAX_VALUE;
            for (var it = waiting.iterator(); it.hasNext(); ) {
                Waiter w = it.next();
                if (w.result().isDone()) {
                    it.remove();
                } else if (now - w.deadlineNanos() >= 0) {
                    it.remove();
                    w.result().completeExceptionally(new TimeoutException("deadline passed"));
                } else {
                    nearest = Math.min(nearest, w.deadlineNanos() - now);
                }
            }
            if (waiting.size() + 1 > capacity) {
                while (capacity < waiting.size() + 1) capacity *= 2;
                tableArena.close();
                tableArena = Arena.ofConfined();
                pollfds = tableArena.allocate(LibC.POLLFD, capacity);
            }
            pollfds.set(JAVA_INT, 0, wakeRead);
            pollfds.set(JAVA_SHORT, 4, LibC.POLLIN);
            pollfds.set(JAVA_SHORT, 6, (short) 0);
            for (int i = 0; i < waiting.size(); i++) {
                Waiter w = waiting.get(i);
                long off = (i + 1) * size;
                pollfds.set(JAVA_INT, off, w.fd());
                pollfds.set(JAVA_SHORT, off + 4, w.events());
                pollfds.set(JAVA_SHORT, off + 6, (short) 0);
            }
            int timeoutMs = nearest == Long.MAX_VALUE ? -1 : (int) Math.min(Integer.MAX_VALUE, (nearest + 999_999) / 1_000_000);
            int n = LibC.poll(pollfds, waiting.size() + 1, timeoutMs);
            if (n < 0) {
                if (LibC.errno() == LibC.EINTR) continue;
                // Nothing sensible is left to wait on: fail every waiter rather than spin.
                var failure = new IllegalStateException(SystemCallException.lastError("poll").getMessage());
                for (Waiter w : waiting) w.result().completeExceptionally(failure);
                waiting.clear();
                continue;
            }
            if ((pollfds.get(JAVA_SHORT, 6) & LibC.POLLIN) != 0) {
                while (LibC.read(wakeRead, drain, drain.byteSize()) > 0) { /* drain wake-ups */ }
            }
            List<Waiter> still = new ArrayList<>(waiting.size());
            for (int i = 0; i < waiting.size(); i++) {
                Waiter w = waiting.get(i);
                short revents = pollfds.get(JAVA_SHORT, (i + 1) * size + 6);
                if (revents != 0) w.result().complete(revents);
                else still.add(w);
            }
            waiting = still;
        }
        for (Waiter w : waiting) w.result().completeExceptionally(new IllegalStateException("poller closed"));
        tableArena.close();
        arena.close();
    }

    @Override
    public void close() {
        closed = true;
        wake();
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        LibC.close(wakeRead);
        LibC.close(wakeWrite);
    }
}
