package org.rpctls.upcall;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.atomic.AtomicReference;
import org.rpctls.rpc.Rpctls;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.Sockets;
import org.rpctls.sys.Users;
import org.rpctls.tls.HandshakeException;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.HostCheck;
import org.rpctls.tls.PeerCheck;
import org.rpctls.tls.Role;
import org.rpctls.tls.RpctlsFlags;
import org.rpctls.tls.TlsContext;
import org.rpctls.tls.TlsSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the daemons do for each upcall procedure (freebsd-rpctls.md §2), independent of the
 * generation (v1 AF_LOCAL / v2 netlink) and of the transport. The RPC programs decode the
 * arguments, call in here, and encode what comes back.
 */
public final class UpcallHandler {
    private static final Logger LOG = LoggerFactory.getLogger("rpctls");

    /**
     * @param role              client (rpc.tlsclntd) or server (rpc.tlsservd)
     * @param mutual            -m: client: may use per-mount certificates; server: asks for client certificates
     * @param verifyConfigured  -l/-p given (the client then insists on a verified, matching server)
     * @param hostCheck         the host check to apply (client: rDNS without wildcards with -l/-p; server: -h)
     * @param requireKtls       FreeBSD's rule; false only for an emulated kernel where the host has no kTLS
     * @param verbose           -v
     * @param timeout           the handshake deadline
     * @param handshakeSlots    -N: handshakes computing at once
     * @param serialHandshakes  --serial-handshakes: one whole handshake at a time, waits for the peer included
     *                          (what FreeBSD 15's rpc.tlsservd does in effect); for comparison benchmarks
     */
    public record Config(Role role, boolean mutual, boolean verifyConfigured, HostCheck hostCheck, boolean requireKtls,
                         boolean verbose, Duration timeout, int handshakeSlots, boolean serialHandshakes) {
        public Config(Role role, boolean mutual, boolean verifyConfigured, HostCheck hostCheck, boolean requireKtls,
                      boolean verbose, Duration timeout, int handshakeSlots) {
            this(role, mutual, verifyConfigured, hostCheck, requireKtls, verbose, timeout, handshakeSlots, false);
        }
    }

    /**
     * How long HANDLERECORD waits for the record the kernel saw. FreeBSD's daemon blocks in
     * SSL_read; the kernel only asks when a record is queued, so this is a guard, not a delay.
     */
    static final Duration HANDLERECORD_WAIT = Duration.ofSeconds(2);

    private final Config config;
    private final AtomicReference<TlsContext> context;
    private final SocketSource sockets;
    private final SessionTable sessions;
    private final Semaphore cpuSlots;
    /** Held for a whole handshake with --serial-handshakes; null otherwise. */
    private final ReentrantLock serial;
    private final String name;

    public UpcallHandler(Config config, TlsContext context, SocketSource sockets, SessionTable sessions) {
        this.config = config;
        this.context = new AtomicReference<>(context);
        this.sockets = sockets;
        this.sessions = sessions;
        this.cpuSlots = new Semaphore(Math.max(1, config.handshakeSlots()), true);
        this.serial = config.serialHandshakes() ? new ReentrantLock(true) : null;
        this.name = config.role() == Role.CLIENT ? "rpctlscd" : "rpctlssd";
    }

    public SessionTable sessions() {
        return sessions;
    }

    public Config config() {
        return config;
    }

    public TlsContext context() {
        return context.get();
    }

    // ---------------------------------------------------------------- CONNECT (client)

    /** The client CONNECT's result: reterr, and the new session's key when it is OK. */
    public record ClientConnect(int reterr, SessionKey key) {}

    /** Client CONNECT (§2.2): claim the socket, shake hands, judge the server, keep the session. */
    public ClientConnect clientConnect(long cookie, byte[] certname, boolean versionOne) throws InterruptedException {
        SocketFd fd;
        try {
            fd = sockets.claim(cookie);
        } catch (Exception e) {
            LOG.error("{}_connect: cannot get the socket from the kernel: {}", name, e.getMessage());
            return new ClientConnect(Rpctls.RPCTLSERR_NOSOCKET, null);
        }
        try (fd) {
            String peer = peerText(fd);
            String certName = null;
            if (certname.length > 0) {
                String requested = new String(certname, StandardCharsets.ISO_8859_1);
                if (config.mutual()) certName = requested;
                else if (config.verbose()) LOG.info("{}_connect: ignoring certificate name \"{}\" without -m", name, printable(requested));
            }
            TlsSession session;
            try {
                session = handshake(fd, request().withCertName(certName));
            } catch (HandshakeException e) {
                HandshakeCounts.failed();
                LOG.error("{}_connect: TLS handshake with server {} failed: {}", name, peer, e.getMessage());
                return new ClientConnect(Rpctls.RPCTLSERR_NOSSL, null);
            }
            HandshakeCounts.ok();
            Optional<String> refusal = RpctlsFlags.clientRefusal(session, config.verifyConfigured(), config.requireKtls());
            if (refusal.isPresent()) {
                String why = refusal.get();
                if (why.equals("ktls not working")) LOG.error("{}_connect: ktls not working (server {})", name, peer);
                else LOG.info("{}_connect: server {} issuerName={} subjectName={} {}", name, peer,
                        session.peer().issuer(), session.peer().subject(), why);
                // FreeBSD frees the SSL without a close_notify and closes the socket
                session.abandon();
                return new ClientConnect(Rpctls.RPCTLSERR_NOSSL, null);
            }
            SessionKey key = versionOne ? sessions.newTriple() : new SessionKey.Cookie(cookie);
            if (!sessions.add(key, session, peer)) {
                LOG.error("{}_connect: {} is already in use; refusing the duplicate", name, key);
                session.close();
                return new ClientConnect(Rpctls.RPCTLSERR_NOSSL, null);
            }
            if (config.verbose()) {
                LOG.info("{}_connect: SSL handshake ok for server {} <{} {}> {}, {}", name, peer, session.info().protocol(),
                        session.info().cipher(), session.info().ktlsText(), key);
            }
            return new ClientConnect(Rpctls.RPCTLSERR_OK, key);
        }
    }

    // ---------------------------------------------------------------- CONNECT (server)

    /** How a server CONNECT ended. */
    public enum ServerStatus {
        /** Handshake done: reply with the flags. */
        DONE,
        /** The daemon took the socket but the handshake failed; the socket is closed. Reply HANDSHFAIL at once. */
        FAILED,
        /** The socket could not be claimed: send no reply (FreeBSD's behaviour; the kernel's timeout cleans up). */
        NO_SOCKET
    }

    public record ServerConnect(ServerStatus status, int flags, int uid, int[] gids, SessionKey key) {}

    /** Server CONNECT (§2.3). */
    public ServerConnect serverConnect(long cookie, boolean versionOne) throws InterruptedException {
        SocketFd fd;
        try {
            fd = sockets.claim(cookie);
        } catch (Exception e) {
            LOG.error("{}_connect: cannot get the socket from the kernel: {}", name, e.getMessage());
            return new ServerConnect(ServerStatus.NO_SOCKET, 0, 0, new int[0], null);
        }
        try (fd) {
            String peer = peerText(fd);
            TlsSession session;
            try {
                session = handshake(fd, request());
            } catch (HandshakeException e) {
                HandshakeCounts.failed();
                LOG.error("{}_connect: TLS handshake with client {} failed: {}", name, peer, e.getMessage());
                return new ServerConnect(ServerStatus.FAILED, RpctlsFlags.HANDSHFAIL, 0, new int[0], null);
            }
            HandshakeCounts.ok();
            PeerCheck p = session.peer();
            int flags = RpctlsFlags.server(session, config.mutual(), config.requireKtls());
            if (config.mutual() && p.gotCert() && !p.verified()) {
                LOG.info("{}_connect: client IP {} issuerName={} subjectName={} verify failed {}", name, peer, p.issuer(), p.subject(),
                        p.verifyError());
            }
            if ((flags & RpctlsFlags.VERIFIED) != 0 && p.hostChecked() && !p.hostMatches()) {
                LOG.info("{}_connect: client IP {} subjectName={} host name {} does not match: connection disabled", name, peer,
                        p.subject(), p.hostName().orElse("(none)"));
            }
            if (config.requireKtls() && !session.info().ktlsBoth()) {
                LOG.error("{}_connect: ktls not working (client {}, {}): connection disabled", name, peer, session.info().ktlsDetail());
            }
            int uid = 0;
            int[] gids = new int[0];
            if ((flags & RpctlsFlags.CERTUSER) != 0) {
                Users.Identity id = p.certUser().orElseThrow();
                uid = id.uid();
                gids = id.gids();
            }
            SessionKey key = versionOne ? sessions.newTriple() : new SessionKey.Cookie(cookie);
            if (!sessions.add(key, session, peer)) {
                LOG.error("{}_connect: {} is already in use; refusing the duplicate", name, key);
                session.close();
                return new ServerConnect(ServerStatus.FAILED, RpctlsFlags.HANDSHFAIL, 0, new int[0], null);
            }
            if (config.verbose()) {
                LOG.info("{}_connect: SSL handshake ok for host {} <{} {}> flags {}{}, {}", name, peer, session.info().protocol(),
                        session.info().cipher(), RpctlsFlags.describe(flags),
                        (flags & RpctlsFlags.CERTUSER) != 0 ? " user " + p.certUser().get() : "", key);
            }
            return new ServerConnect(ServerStatus.DONE, flags, uid, gids, key);
        }
    }

    /** One handshake; with --serial-handshakes, only after the one before it has ended (within the handshake timeout). */
    private TlsSession handshake(SocketFd fd, Handshaker.Request request) throws HandshakeException, InterruptedException {
        if (serial == null) return Handshaker.handshake(context.get(), fd, request);
        if (!serial.tryLock(request.timeout().toNanos(), TimeUnit.NANOSECONDS)) {
            throw new HandshakeException(HandshakeException.Reason.TIMEOUT,
                    "handshake timed out after " + request.timeout().toMillis() / 1000.0 + " s (waiting for the handshake before it)");
        }
        try {
            return Handshaker.handshake(context.get(), fd, request);
        } finally {
            serial.unlock();
        }
    }

    private Handshaker.Request request() {
        return Handshaker.Request.defaults().withTimeout(config.timeout()).withHostCheck(config.hostCheck()).withCpuSlots(cpuSlots);
    }

    // ---------------------------------------------------------------- HANDLERECORD, DISCONNECT

    /** HANDLERECORD (§2.4): consume one control record; answer a close_notify. */
    public int handleRecord(SessionKey key) throws InterruptedException {
        SessionTable.Entry e = sessions.get(key);
        if (e == null) {
            if (config.verbose()) LOG.info("{}_handlerecord: no session for {}", name, key);
            return Rpctls.RPCTLSERR_NOSSL;
        }
        return answered(e, key, e.session().handleRecord(HANDLERECORD_WAIT));
    }

    /**
     * HANDLERECORD answered at once where no wait is needed (see TlsSession.handleRecordNow),
     * else null: then {@link #handleRecord} on a thread of its own.
     */
    public Integer handleRecordNow(SessionKey key) throws InterruptedException {
        SessionTable.Entry e = sessions.get(key);
        if (e == null) return handleRecord(key); // answered at once too
        TlsSession.RecordResult r = e.session().handleRecordNow();
        return r == null ? null : answered(e, key, r);
    }

    private int answered(SessionTable.Entry e, SessionKey key, TlsSession.RecordResult r) {
        switch (r) {
            case APPLICATION_DATA -> LOG.error("{}_handlerecord: SSL_read returned application data ({} {})", name, e.peer(), key);
            case CLOSE_NOTIFY -> {
                if (config.verbose()) LOG.info("{}_handlerecord: close_notify from {} answered ({})", name, e.peer(), key);
            }
            case ERROR -> LOG.info("{}_handlerecord: connection to {} failed ({})", name, e.peer(), key);
            case INCOMPLETE -> LOG.info("{}_handlerecord: incomplete record from {}: rest not received within {} s ({})", name, e.peer(),
                    HANDLERECORD_WAIT.toSeconds(), key);
            default -> {
                if (config.verbose()) LOG.info("{}_handlerecord: {} from {} ({})", name, r, e.peer(), key);
            }
        }
        return Rpctls.RPCTLSERR_OK;
    }

    /** DISCONNECT (§2.5): close_notify unless sent, shutdown(SHUT_WR), close, forget. */
    public int disconnect(SessionKey key) {
        SessionTable.Entry e = sessions.remove(key);
        if (e == null) {
            if (config.verbose()) LOG.info("{}_disconnect: no session for {}", name, key);
            return Rpctls.RPCTLSERR_NOCLOSE;
        }
        e.session().close();
        if (config.verbose()) LOG.info("{}_disconnect: closed connection to {} ({})", name, e.peer(), key);
        return Rpctls.RPCTLSERR_OK;
    }

    /**
     * The CONNECT reply for {@code key} could not reach the kernel: its upcall connection closed
     * while the handshake ran. The kernel's call has failed (rpctls_rpc_failed shuts the socket
     * down), so it will never know this session or DISCONNECT it; keeping it would hold a
     * descriptor and an SSL object until the daemon exits. Found by FaultTest (channel drop
     * during CONNECT).
     */
    public void replyLost(SessionKey key) {
        SessionTable.Entry e = sessions.remove(key);
        if (e == null) return;
        e.session().close();
        LOG.error("{}_connect: reply to the kernel lost (upcall connection closed): connection to {} closed ({})", name, e.peer(), key);
    }

    // ---------------------------------------------------------------- reload, shutdown

    /**
     * SIGHUP: new handshakes use {@code fresh}; sessions whose verified peer certificate is now
     * revoked by its CRL are cut off (shutdown SHUT_WR) for the kernel to DISCONNECT. Returns
     * how many were cut off.
     */
    public int reload(TlsContext fresh) {
        TlsContext old = context.getAndSet(fresh);
        if (old != null && old != fresh) old.close(); // sessions keep their SSL_CTX alive by reference count
        int revoked = 0;
        if (fresh.hasCrl()) {
            for (SessionTable.Entry e : sessions.entries()) {
                if (e.session().isShutOff() || !e.session().isRevokedBy(fresh)) continue;
                LOG.info("{}: Certificate Revoked issuerName={} subjectName={}: TCP connection closed ({}, {})", name,
                        e.session().peer().issuer(), e.session().peer().subject(), e.peer(), e.key());
                e.session().shutOff();
                revoked++;
            }
        }
        return revoked;
    }

    /** SIGTERM (FreeBSD's rpctls_cleanup_term): stop reading on every socket; sessions end with the process. */
    public void terminate() {
        for (SessionTable.Entry e : sessions.entries()) {
            e.session().shutdownRead();
        }
    }

    static String peerText(SocketFd fd) {
        try {
            var a = Sockets.peerAddress(fd.fd());
            return a == null ? "(not an IP socket)" : a.getAddress().getHostAddress() + ":" + a.getPort();
        } catch (Exception e) {
            return "(no peer: " + e.getMessage() + ")";
        }
    }

    static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) b.append(c >= 0x20 && c < 0x7f ? String.valueOf(c) : String.format("\\x%02x", (int) c & 0xff));
        return b.toString();
    }
}
