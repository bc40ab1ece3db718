package org.rpctls.tls;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.LibCrypto;
import org.rpctls.ffi.LibSsl;
import org.rpctls.ffi.OpenSslException;
import org.rpctls.sys.FdPoller;

/**
 * An established TLS connection: the SSL*, the socket descriptor and the peer certificate,
 * owned here and freed exactly once by {@link #close()}. With kernel TLS the kernel moves the
 * application data; the session stays for control records (alerts, close_notify) and for an
 * orderly shutdown, as FreeBSD's ssl_entry does. All SSL calls on it are serialised.
 */
public final class TlsSession implements AutoCloseable {
    /** What a {@link #handleRecord} call found. */
    public enum RecordResult {
        /** Nothing arrived within the wait. */
        NOTHING,
        /** A control record (an alert, or post-handshake data) was consumed. */
        CONTROL,
        /** The peer's close_notify was consumed and answered with ours. */
        CLOSE_NOTIFY,
        /** Application data arrived where a control record was expected (FreeBSD logs "SSL_read returned"). */
        APPLICATION_DATA,
        /** The connection failed (peer reset, fatal alert). */
        ERROR,
        /** Only part of a record arrived within the wait (the rest stays buffered for a later call). */
        INCOMPLETE
    }

    private final ReentrantLock lock = new ReentrantLock();
    private final Role role;
    private final MemorySegment ssl;
    private final int fd;
    private final MemorySegment peerCert;
    private final TlsInfo info;
    private final PeerCheck peer;
    private final List<String> keyLog;
    /** The kernel decrypts received records and OpenSSL does not know it (TLS 1.3 receive installed by us). */
    private final boolean manualKtlsRx;
    private boolean shutOff;
    private boolean closed;

    TlsSession(Role role, MemorySegment ssl, int fd, MemorySegment peerCert, TlsInfo info, PeerCheck peer, List<String> keyLog,
               boolean manualKtlsRx) {
        this.manualKtlsRx = manualKtlsRx;
        this.role = role;
        this.ssl = ssl;
        this.fd = fd;
        this.peerCert = peerCert;
        this.info = info;
        this.peer = peer;
        this.keyLog = keyLog;
    }

    public Role role() {
        return role;
    }

    public int fd() {
        return fd;
    }

    public TlsInfo info() {
        return info;
    }

    public PeerCheck peer() {
        return peer;
    }

    /** NSS key log lines collected during the handshake (empty unless requested). */
    public List<String> keyLog() {
        return List.copyOf(keyLog);
    }

    public boolean isClosed() {
        lock.lock();
        try {
            return closed;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether the peer's certificate, which verified at handshake time, is now listed in one
     * of {@code context}'s CRLs (the SIGHUP re-check, FreeBSD §3.5).
     */
    public boolean isRevokedBy(TlsContext context) {
        lock.lock();
        try {
            return !closed && peer.verified() && !peerCert.equals(MemorySegment.NULL) && context.isRevoked(peerCert);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Cuts a revoked connection off: shutdown(SHUT_WR) now, so the kernel sees the end and
     * later sends DISCONNECT, which then skips close_notify (FreeBSD's "shutoff").
     */
    public void shutOff() {
        lock.lock();
        try {
            if (closed || shutOff) return;
            LibC.shutdown(fd, LibC.SHUT_WR);
            shutOff = true;
        } finally {
            lock.unlock();
        }
    }

    /** SIGTERM: stop reading (FreeBSD's rpctls_cleanup_term), unless the session is already closed. */
    public void shutdownRead() {
        lock.lock();
        try {
            if (!closed) LibC.shutdown(fd, LibC.SHUT_RD);
        } finally {
            lock.unlock();
        }
    }

    public boolean isShutOff() {
        lock.lock();
        try {
            return shutOff;
        } finally {
            lock.unlock();
        }
    }

    /**
     * HANDLERECORD: a zero-length SSL_read, which processes one non-application-data record
     * (alert, close_notify) and returns; a received close_notify is answered with ours.
     * Waits at most {@code wait} for the record to be readable, so a kernel's wrong guess never
     * blocks the caller.
     */
    public RecordResult handleRecord(Duration wait) throws InterruptedException {
        lock.lock();
        try {
            if (closed) return RecordResult.ERROR;
            long deadline = System.nanoTime() + wait.toNanos();
            try {
                FdPoller.shared().await(fd, LibC.POLLIN, deadline);
            } catch (TimeoutException e) {
                // the first part of a record may be buffered from a handleRecordNow that found no more
                return LibSsl.SSL_has_pending(ssl) == 1 ? RecordResult.INCOMPLETE : RecordResult.NOTHING;
            }
            if (manualKtlsRx) return handleKernelRecord();
            return readRecord(deadline);
        } finally {
            releaseBuffers();
            lock.unlock();
        }
    }

    /**
     * HANDLERECORD if it can be done without waiting, else null: the session is busy (another
     * upcall holds it), no whole record is queued yet, or the kernel decrypts (kTLS receive).
     * A null leaves the session as it was, but for the first part of a record that OpenSSL may
     * have buffered, which {@link #handleRecord} then completes. For the thread that reads the
     * kernel's upcalls: answering there saves waking another thread for the common case.
     */
    public RecordResult handleRecordNow() throws InterruptedException {
        if (!lock.tryLock()) return null;
        try {
            if (closed) return RecordResult.ERROR;
            if (manualKtlsRx || FdPoller.readyNow(fd, LibC.POLLIN) == 0) return null;
            return readRecord(-1);
        } finally {
            releaseBuffers();
            lock.unlock();
        }
    }

    /**
     * Gives OpenSSL's record buffers back after a HANDLERECORD (caller holds the lock).
     * SSL_MODE_RELEASE_BUFFERS frees them only on some paths: after a post-handshake message
     * (NewSessionTicket, KeyUpdate) OpenSSL 3.0 keeps its 16.6 KiB read buffer, and after a
     * close_notify answered with ours it keeps both buffers (33 KiB), for as long as the session
     * is held (docs/performance-mem.md). Not while part of a record is buffered
     * (SSL_has_pending): that stays for the next call, and OpenSSL before 3.0.14 would free a
     * processed record still unread (CVE-2024-4741). The SSL stays usable: OpenSSL allocates a
     * buffer again for the next record it reads or writes.
     */
    private void releaseBuffers() {
        if (!closed && LibSsl.SSL_has_pending(ssl) == 0) LibSsl.SSL_free_buffers(ssl);
    }

    /** SSL_read(0) on the non-blocking socket; deadline -1: return null instead of waiting for the rest of a record. */
    private RecordResult readRecord(long deadline) throws InterruptedException {
        // The socket is blocking again after the handshake (the kernel expects that). A peer
        // that sends only part of a record would leave a blocking SSL_read in read(2) for ever:
        // HANDLERECORD never answers, DISCONNECT then waits on this lock for ever, and the
        // blocked native call holds a carrier thread of the daemon's virtual-thread scheduler.
        // So read non-blocking, and wait for the rest of a partial record only until the
        // deadline (HostilePeerTest, "truncated record").
        int flags = LibC.fcntl(fd, LibC.F_GETFL);
        if (flags >= 0) LibC.fcntl(fd, LibC.F_SETFL, flags | LibC.O_NONBLOCK);
        try {
            while (true) {
                LibCrypto.ERR_clear_error();
                int r;
                try (Arena arena = Arena.ofConfined()) {
                    r = LibSsl.SSL_read(ssl, arena.allocate(1), 0);
                }
                int err = r > 0 ? LibSsl.SSL_ERROR_NONE : LibSsl.SSL_get_error(ssl, r);
                LibCrypto.ERR_clear_error();
                int state = LibSsl.SSL_get_shutdown(ssl);
                if ((state & LibSsl.SSL_RECEIVED_SHUTDOWN) != 0) {
                    if ((state & LibSsl.SSL_SENT_SHUTDOWN) == 0) {
                        LibSsl.SSL_shutdown(ssl);
                        LibCrypto.ERR_clear_error();
                    }
                    return RecordResult.CLOSE_NOTIFY;
                }
                if (r > 0) return RecordResult.APPLICATION_DATA;
                if (err == LibSsl.SSL_ERROR_WANT_READ && LibSsl.SSL_has_pending(ssl) == 1) {
                    // part of a record is buffered: wait for the rest, within the deadline
                    if (deadline == -1) return null;
                    try {
                        FdPoller.shared().await(fd, LibC.POLLIN, deadline);
                    } catch (TimeoutException e) {
                        return RecordResult.INCOMPLETE;
                    }
                    continue;
                }
                return switch (err) {
                    case LibSsl.SSL_ERROR_WANT_READ, LibSsl.SSL_ERROR_WANT_WRITE, LibSsl.SSL_ERROR_NONE -> RecordResult.CONTROL;
                    case LibSsl.SSL_ERROR_ZERO_RETURN -> RecordResult.CLOSE_NOTIFY;
                    default -> RecordResult.ERROR;
                };
            }
        } finally {
            if (flags >= 0) LibC.fcntl(fd, LibC.F_SETFL, flags);
        }
    }

    /**
     * HANDLERECORD where the kernel decrypts (TLS 1.3 receive installed by us): read the record
     * from the kernel with its type, and do what SSL_read(0) would: a close_notify is answered
     * with ours (sent by OpenSSL through the kernel's send side), other records are consumed.
     */
    private RecordResult handleKernelRecord() {
        var rec = org.rpctls.linux.KtlsRecords.read(fd);
        if (rec.type() < 0) return RecordResult.ERROR;
        if (rec.type() == org.rpctls.linux.KtlsRecords.APPLICATION_DATA) return RecordResult.APPLICATION_DATA;
        if (rec.isCloseNotify()) {
            int state = LibSsl.SSL_get_shutdown(ssl);
            LibSsl.SSL_set_shutdown(ssl, state | LibSsl.SSL_RECEIVED_SHUTDOWN);
            if ((state & LibSsl.SSL_SENT_SHUTDOWN) == 0) {
                LibCrypto.ERR_clear_error();
                LibSsl.SSL_shutdown(ssl);
                LibCrypto.ERR_clear_error();
            }
            return RecordResult.CLOSE_NOTIFY;
        }
        return rec.isFatalAlert() ? RecordResult.ERROR : RecordResult.CONTROL;
    }

    /**
     * Sends application data through OpenSSL (only meaningful without kernel TLS, e.g. in
     * tests and the handshake probe). Returns the bytes written.
     */
    public int write(byte[] data) {
        lock.lock();
        try (Arena arena = Arena.ofConfined()) {
            if (closed) throw new IllegalStateException("session closed");
            MemorySegment buf = arena.allocate(Math.max(1, data.length));
            MemorySegment.copy(MemorySegment.ofArray(data), 0, buf, 0, data.length);
            LibCrypto.ERR_clear_error();
            int r = LibSsl.SSL_write(ssl, buf, data.length);
            if (r <= 0) throw new OpenSslException("SSL_write failed (SSL_get_error " + LibSsl.SSL_get_error(ssl, r) + ")");
            return r;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Reads application data through OpenSSL, waiting at most {@code wait}; returns an empty
     * array at end of stream or timeout.
     */
    public byte[] read(int max, Duration wait) throws InterruptedException {
        lock.lock();
        try (Arena arena = Arena.ofConfined()) {
            if (closed) throw new IllegalStateException("session closed");
            long deadline = System.nanoTime() + wait.toNanos();
            MemorySegment buf = arena.allocate(max);
            while (true) {
                LibCrypto.ERR_clear_error();
                int r = LibSsl.SSL_read(ssl, buf, max);
                if (r > 0) return buf.asSlice(0, r).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                int err = LibSsl.SSL_get_error(ssl, r);
                LibCrypto.ERR_clear_error();
                if (err != LibSsl.SSL_ERROR_WANT_READ && err != LibSsl.SSL_ERROR_WANT_WRITE) return new byte[0];
                try {
                    FdPoller.shared().await(fd, err == LibSsl.SSL_ERROR_WANT_READ ? LibC.POLLIN : LibC.POLLOUT, deadline);
                } catch (TimeoutException e) {
                    return new byte[0];
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Drops a connection the daemon refuses right after the handshake, as FreeBSD does: the
     * SSL* is freed with no close_notify and no shutdown(2), and the descriptor is closed.
     */
    public void abandon() {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            LibSsl.SSL_free(ssl);
            if (!peerCert.equals(MemorySegment.NULL)) LibCrypto.X509_free(peerCert);
            LibC.close(fd);
        } finally {
            lock.unlock();
        }
    }

    /**
     * DISCONNECT: close_notify unless already sent (or cut off), shutdown(SHUT_WR), close; frees
     * the SSL* and the certificate. Idempotent.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            // Never block here on a peer that stopped reading: the connection is going away.
            int flags = LibC.fcntl(fd, LibC.F_GETFL);
            if (flags >= 0) LibC.fcntl(fd, LibC.F_SETFL, flags | LibC.O_NONBLOCK);
            if (!shutOff && (LibSsl.SSL_get_shutdown(ssl) & LibSsl.SSL_SENT_SHUTDOWN) == 0) {
                LibCrypto.ERR_clear_error();
                LibSsl.SSL_shutdown(ssl);
                LibCrypto.ERR_clear_error();
            }
            LibSsl.SSL_free(ssl);
            if (!peerCert.equals(MemorySegment.NULL)) LibCrypto.X509_free(peerCert);
            if (!shutOff) LibC.shutdown(fd, LibC.SHUT_WR);
            LibC.close(fd);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public String toString() {
        return "TlsSession[" + role + " fd " + fd + " " + info.protocol() + " " + info.cipher() + " " + info.ktlsText() + "]";
    }
}
