package org.rpctls.emulator;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.SystemCallException;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.UnixSockets;
import org.rpctls.upcall.ClaimTable;

/**
 * The emulated rpctls_syscall's kernel side: the sockets of upcalls in progress, in a
 * {@link ClaimTable} a daemon claims from in one pidfd_getfd(2) (DIR/broker.tab, the
 * default), and DIR/broker.sock, the Unix-socket broker for daemons that cannot use the table
 * (or when the table is not published: {@link EmulatedKernel.Handover#BROKER}).
 * Broker request: 8-byte big-endian cookie (0 = "the socket pending for my current upcall",
 * version 1). Answer: one status byte (0, or an errno such as EPERM when nothing is pending) with
 * the descriptor in SCM_RIGHTS. Both paths take the socket out of the same table, so a socket is
 * handed out once, as the kernel's lookup removes it from its tree.
 *
 * <p>Each offer holds its own duplicate of the caller's descriptor (the kernel's reference to
 * the socket) until it is withdrawn: a daemon copies that descriptor by number, so the number
 * must not be closed and reused under a claim in progress, whatever the test does with its own.
 */
final class SocketBroker implements AutoCloseable {
    /** How long a withdrawal waits for a claim in progress (a claim takes microseconds; a stopped daemon longer). */
    static final Duration CLAIM_WAIT = Duration.ofSeconds(2);

    private record Pending(ClaimTable.Offer offer, int fd) {}

    private final SocketFd listener;
    private final ClaimTable table;
    private final Path tableFile;
    private final int pid = LibC.getpid();
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /** @param shareTable publish the claim table as DIR/broker.tab (else the daemons must use the broker) */
    SocketBroker(Path dir, boolean shareTable) throws IOException {
        Path file = dir.resolve(ClaimTable.FILE_NAME);
        if (shareTable) {
            table = ClaimTable.create(file, pid);
            tableFile = file;
            allowDescriptorCopies();
        } else {
            Files.deleteIfExists(file); // a table left by an earlier emulator in this directory would be used
            table = ClaimTable.inMemory(pid);
            tableFile = null;
        }
        listener = UnixSockets.listen(dir.resolve("broker.sock"), LibC.SOCK_STREAM, 64);
        org.rpctls.sys.Sockets.setNonBlocking(listener.fd(), false);
        Thread.ofPlatform().daemon().name("emulator broker").start(this::loop);
    }

    /**
     * Under Yama's ptrace_scope 1 (Ubuntu's default) only an ancestor may ptrace, and
     * pidfd_getfd needs that access: the daemons are this process's children, so let them.
     * Without Yama the call fails with EINVAL and nothing is needed; where pidfd_getfd is still
     * refused, the daemon falls back to the broker and says so at start-up.
     */
    private static void allowDescriptorCopies() {
        try {
            LibC.prctl(LibC.PR_SET_PTRACER, LibC.PR_SET_PTRACER_ANY);
        } catch (UnsupportedOperationException e) {
            // not x86_64 or aarch64 Linux: the daemons find out for themselves
        }
    }

    /** Makes {@code socket} claimable under {@code cookie} (the kernel keeps its own reference). */
    void offer(long cookie, SocketFd socket) throws IOException {
        int fd = LibC.fcntl(socket.fd(), LibC.F_DUPFD_CLOEXEC, 0);
        if (fd < 0) throw SystemCallException.lastError("fcntl(F_DUPFD_CLOEXEC)");
        Pending p = new Pending(table.offer(cookie, fd), fd);
        Pending old = pending.put(cookie, p);
        if (old != null) end(old); // as before: a new offer under the same cookie replaces the old one
    }

    /**
     * Withdraws an unclaimed socket (rpctls_rpc_failed: "still in the tree"); true if it was still
     * there. A claim in progress is waited for: false then, the daemon has the socket.
     */
    boolean withdraw(long cookie) {
        Pending p = pending.remove(cookie);
        return p != null && end(p);
    }

    private boolean end(Pending p) {
        ClaimTable.Withdrawn w = table.withdraw(p.offer(), CLAIM_WAIT);
        // CLAIM_STUCK: a claimer still holds the slot and may yet copy the descriptor by number: keep it open
        if (w != ClaimTable.Withdrawn.CLAIM_STUCK) LibC.close(p.fd());
        return w == ClaimTable.Withdrawn.UNCLAIMED;
    }

    int claims() {
        return (int) table.claims();
    }

    private void loop() {
        while (!closed) {
            int c = LibC.accept(listener.fd(), java.lang.foreign.MemorySegment.NULL, java.lang.foreign.MemorySegment.NULL);
            if (c < 0) {
                if (closed) return;
                continue;
            }
            // Each request on its own thread. Served one after the other, a daemon that had connected
            // but not yet sent its cookie held up the rest; the daemon claims from virtual threads whose
            // blocking recvmsg pins their carriers, so with both carriers pinned by claims waiting here,
            // the claim being read could never send its cookie: a deadlock until the kernel's timeout
            // (found by FaultTest's -N test, thread dump of the stalled daemon).
            Thread.ofPlatform().daemon().name("emulator broker request").start(() -> serve(c));
        }
    }

    private void serve(int c) {
        try (SocketFd conn = SocketFd.adopt(c)) {
            var r = UnixSockets.receiveWithFd(conn.fd(), 8);
            if (r.fd() >= 0) LibC.close(r.fd());
            if (r.data().length != 8) {
                UnixSockets.sendWithFd(conn.fd(), new byte[] {(byte) LibC.EPERM}, -1);
                return;
            }
            long cookie = ByteBuffer.wrap(r.data()).getLong();
            int slot = table.claim(cookie, pid);
            if (slot < 0) {
                UnixSockets.sendWithFd(conn.fd(), new byte[] {(byte) LibC.EPERM}, -1);
                return;
            }
            try {
                UnixSockets.sendWithFd(conn.fd(), new byte[] {0}, table.fd(slot));
            } finally {
                table.finish(slot);
            }
        } catch (IOException e) {
            // a daemon that went away mid-request: nothing to clean up but the connection
        }
    }

    @Override
    public void close() {
        closed = true;
        table.markClosed();
        for (Long cookie : pending.keySet()) withdraw(cookie);
        LibC.shutdown(listener.fd(), LibC.SHUT_RDWR);
        listener.close();
        if (tableFile != null) {
            try {
                Files.deleteIfExists(tableFile);
            } catch (IOException e) {
                // the directory went first
            }
        }
    }
}
