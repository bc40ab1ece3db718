package org.rpctls.linux;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.SystemCallException;
import org.rpctls.netlink.GenericNetlink;
import org.rpctls.netlink.MalformedNetlinkException;
import org.rpctls.netlink.NetlinkMessage;
import org.rpctls.netlink.RawNetlinkSocket;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.Sockets;
import org.rpctls.tls.HandshakeException;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.HostCheck;
import org.rpctls.tls.Role;
import org.rpctls.tls.TlsContext;
import org.rpctls.tls.TlsSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves the Linux kernel's handshake upcall (what ktls-utils' tlshd serves): READY on group
 * "tlshd" → ACCEPT (the socket lands in our fd table) → handshake → both directions in kernel
 * TLS → DONE(status, sockfd, remote-auth) → close our descriptor. rpc.tlsclntd serves
 * CLIENTHELLO (NFS mounts with xprtsec=tls|mtls), rpc.tlsservd SERVERHELLO (nfsd); a request
 * for the other role goes to the sibling daemon.
 *
 * <p>Status values are tlshd's: 0, EACCES (handshake or verification failed), ETIMEDOUT (the
 * peer went away early: the kernel may retry), EIO (local failure, e.g. no kernel TLS).
 */
public final class LinuxHandshakeAgent implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger("rpctls");

    /**
     * @param role       which requests this daemon serves itself
     * @param timeout    the handshake deadline when the kernel sends none (its own wait is 20 s)
     * @param slots      -N: handshakes computing at once
     * @param handoffDir where the two daemons find each other
     */
    public record Config(Role role, Duration timeout, int slots, Path handoffDir, boolean verbose) {}

    /** The contexts in use: x509 (with our certificate, if any) and, client side, anon (none). */
    public record Contexts(TlsContext x509, TlsContext anon) {
        boolean x509HasCertificate() {
            return x509.settings().loadOwnCert();
        }
    }

    private final Config config;
    private final AtomicReference<Contexts> contexts;
    private final Semaphore cpuSlots;
    private final SiblingLink sibling;
    private final AtomicInteger seq = new AtomicInteger(1);
    private RawNetlinkSocket notify;
    private GenericNetlink.Family family;
    private volatile boolean closed;

    /**
     * Receive buffer of the READY socket. Each READY is charged about 4.7 KB (the kernel allocates
     * a default-size generic-netlink message), and a network namespace holds up to 50 pending
     * requests, so the default 208 KiB can overflow when the daemons stall during a reconnect
     * storm. A READY that reaches no agent is not kept: the kernel fails that request at once
     * (the mount sees ESRCH, as the lab showed with a tiny buffer). 512 KiB holds them all.
     */
    static final int NOTIFY_RCVBUF = 512 * 1024;

    public LinuxHandshakeAgent(Config config, Contexts contexts) {
        this.config = config;
        this.contexts = new AtomicReference<>(contexts);
        this.cpuSlots = new Semaphore(Math.max(1, config.slots()), true);
        this.sibling = new SiblingLink(config.handoffDir(), config.role());
    }

    /** Resolves the family, joins "tlshd", starts listening; fails with a clear message when the kernel has no handshake family. */
    public String start() throws IOException {
        notify = RawNetlinkSocket.open();
        try {
            family = GenericNetlink.resolve(notify, HandshakeFamily.NAME);
        } catch (MalformedNetlinkException e) {
            throw new IOException("resolving netlink family \"handshake\": " + e.getMessage());
        } catch (IOException e) {
            throw new IOException("Kernel handshake service is not available (" + e.getMessage() + ")");
        }
        Integer group = family.groups().get(HandshakeFamily.GROUP);
        if (group == null) throw new IOException("netlink family \"handshake\" has no group \"tlshd\" (" + family.groups() + ")");
        notify.setReceiveBuffer(NOTIFY_RCVBUF);
        notify.joinGroup(group);
        sibling.listen(this::serveOwn);
        Thread.ofPlatform().daemon().name("handshake netlink").start(this::readLoop);
        return "netlink family \"handshake\" (id " + family.id() + ") group \"tlshd\" (id " + group + ", receive buffer "
                + notify.receiveBuffer() / 1024 + " KiB), handoff " + config.handoffDir();
    }

    public void reload(Contexts fresh) {
        Contexts old = contexts.getAndSet(fresh);
        if (old != null) {
            if (old.x509() != fresh.x509()) old.x509().close();
            if (old.anon() != null && old.anon() != fresh.anon()) old.anon().close();
        }
    }

    private void readLoop() {
        while (!closed) {
            byte[] packet;
            try {
                packet = notify.receive();
            } catch (IOException | RuntimeException e) {
                if (closed) return;
                if (e instanceof SystemCallException sc && sc.errno() == LibC.ENOBUFS) {
                    // the kernel already failed the requests whose READY reached no agent
                    LOG.error("handshake netlink: READY notifications lost (receive buffer full); requests no agent heard of failed");
                    continue;
                }
                // an oversized or otherwise unreadable packet: keep listening
                LOG.error("handshake netlink receive failed: {}; listening on", e.getMessage());
                pause();
                continue;
            }
            if (packet == null) return;
            try {
                for (NetlinkMessage m : NetlinkMessage.parseAll(packet)) {
                    if (m.type() != family.id() || m.cmd() != HandshakeFamily.CMD_READY) continue;
                    var cls = m.attr(HandshakeFamily.A_ACCEPT_HANDLER_CLASS);
                    if (cls.isEmpty() || cls.get().u32() != HandshakeFamily.HANDLER_CLASS_TLSHD) continue;
                    Thread.ofVirtual().name("handshake request").start(this::acceptOne);
                }
            } catch (MalformedNetlinkException e) {
                LOG.info("handshake netlink packet of {} bytes dropped: {}", packet.length, e.getMessage());
            }
        }
    }

    static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** ACCEPT one pending request; another agent may win the race (EAGAIN). */
    private void acceptOne() {
        HandshakeFamily.AcceptParams params;
        try (RawNetlinkSocket s = RawNetlinkSocket.open()) {
            int mySeq = seq.getAndIncrement();
            s.send(HandshakeFamily.accept(family.id(), mySeq));
            params = null;
            while (params == null) {
                byte[] packet = s.receive();
                if (packet == null) return;
                for (NetlinkMessage m : NetlinkMessage.parseAll(packet)) {
                    if (m.seq() != mySeq) continue;
                    if (m.type() == NetlinkMessage.NLMSG_ERROR) {
                        int err = -m.errorCode();
                        if (err == 0) continue;
                        if (err == LibC.EAGAIN) {
                            if (config.verbose()) LOG.info("handshake request taken by another agent");
                        } else {
                            LOG.error("HANDSHAKE_CMD_ACCEPT failed: {} (errno {})", LibC.strerror(err), err);
                        }
                        return;
                    }
                    if (m.type() == family.id() && m.cmd() == HandshakeFamily.CMD_ACCEPT) {
                        params = HandshakeFamily.parseAccept(m.attrs());
                        break;
                    }
                }
            }
        } catch (IOException | MalformedNetlinkException e) {
            LOG.error("HANDSHAKE_CMD_ACCEPT: {}", e.getMessage());
            return;
        }
        SocketFd socket;
        try {
            socket = SocketFd.adopt(params.sockfd());
        } catch (RuntimeException e) {
            LOG.error("HANDSHAKE_CMD_ACCEPT gave an unusable socket {}: {}", params.sockfd(), e.getMessage());
            return;
        }
        Role wanted = switch (params.messageType()) {
            case HandshakeFamily.MSG_TYPE_CLIENTHELLO -> Role.CLIENT;
            case HandshakeFamily.MSG_TYPE_SERVERHELLO -> Role.SERVER;
            default -> null;
        };
        if (wanted == null) {
            LOG.error("handshake request with unknown {}: DONE with EIO", params.messageTypeName());
            done(params, socket, LibC.EIO, peerText(socket, params));
            return;
        }
        if (wanted != config.role()) {
            String peer = peerText(socket, params);
            try {
                sibling.handOff(params, socket, wanted);
                if (config.verbose()) LOG.info("{} for {} passed to the sibling daemon", params.messageTypeName(), peer);
            } catch (IOException e) {
                LOG.error("{} for {}: {}: DONE with EIO", params.messageTypeName(), peer, e.getMessage());
                done(params, socket, LibC.EIO, peer);
            }
            return;
        }
        serveOwn(params, socket);
    }

    /** Runs a request of our own role: handshake, DONE, close. */
    private void serveOwn(HandshakeFamily.AcceptParams params, SocketFd socket) {
        String peer = peerText(socket, params);
        Contexts ctx = contexts.get();
        Duration timeout = params.timeoutMs() > 0 ? Duration.ofMillis(Math.min(params.timeoutMs(), config.timeout().toMillis())) : config.timeout();
        Handshaker.Request req = Handshaker.Request.defaults().withTimeout(timeout).withCpuSlots(cpuSlots);
        TlsContext use = ctx.x509();
        if (config.role() == Role.CLIENT) {
            String name = params.peername() != null ? params.peername() : Sockets.reverseName(socket.fd()).orElse(null);
            req = req.withHostCheck(name == null ? new HostCheck.Name("", 0) : new HostCheck.Name(name, 0));
            if (params.peername() != null && !looksLikeIp(params.peername())) req = req.withServerName(params.peername());
            if (params.authMode() == HandshakeFamily.AUTH_UNAUTH) {
                use = ctx.anon();
            } else if (params.authMode() == HandshakeFamily.AUTH_X509 && params.certSerial() != 0) {
                try {
                    req = req.withDerKeys(new Handshaker.DerKeys(Keyrings.read(params.certSerial()), Keyrings.read(params.privkeySerial())));
                } catch (IOException e) {
                    LOG.error("CLIENTHELLO to {}: cannot read the keyring certificate: {}: DONE with EACCES", peer, e.getMessage());
                    done(params, socket, LibC.EACCES, peer);
                    return;
                }
            } else if (params.authMode() == HandshakeFamily.AUTH_X509 && !ctx.x509HasCertificate()) {
                // mutual TLS was asked for: never fall back to an anonymous client silently
                LOG.error("CLIENTHELLO to {}: mtls requested but this daemon has no client certificate (-m): DONE with EACCES", peer);
                done(params, socket, LibC.EACCES, peer);
                return;
            } else if (params.authMode() == HandshakeFamily.AUTH_PSK) {
                LOG.error("CLIENTHELLO to {}: PSK authentication is not supported: DONE with EOPNOTSUPP", peer);
                done(params, socket, LibC.EOPNOTSUPP, peer);
                return;
            }
        } else if (params.authMode() == HandshakeFamily.AUTH_PSK) {
            LOG.error("SERVERHELLO from {}: PSK authentication is not supported: DONE with EOPNOTSUPP", peer);
            done(params, socket, LibC.EOPNOTSUPP, peer);
            return;
        }
        TlsSession session;
        try {
            session = Handshaker.handshake(use, socket, req);
        } catch (HandshakeException e) {
            int status = switch (e.reason()) {
                case TIMEOUT, PEER_CLOSED -> LibC.ETIMEDOUT;
                case IO -> LibC.EIO;
                default -> LibC.EACCES;
            };
            LOG.error("{} {} {}: TLS handshake failed: {}: DONE with {}", params.messageTypeName(),
                    config.role() == Role.CLIENT ? "to" : "from", peer, e.getMessage(), LibC.strerror(status));
            done(params, socket, status, peer);
            return;
        } catch (InterruptedException e) {
            done(params, socket, LibC.EIO, peer);
            return;
        } catch (RuntimeException e) {
            LOG.error("{} {}: {}: DONE with EIO", params.messageTypeName(), peer, e, e);
            done(params, socket, LibC.EIO, peer);
            return;
        }
        // the session owns the descriptor now
        int fd = session.fd();
        try {
            var p = session.peer();
            int status = 0;
            String why = null;
            List<Integer> remoteAuth = List.of();
            if (config.role() == Role.CLIENT) {
                if (!p.verified()) {
                    status = LibC.EACCES;
                    why = p.gotCert() ? "server certificate verify failed: " + p.verifyError() : "server sent no certificate";
                } else if (!p.hostMatches()) {
                    status = LibC.EACCES;
                    why = "server certificate does not match " + p.hostName().orElse("(no peer name)");
                }
            } else if (p.verified()) {
                remoteAuth = List.of(HandshakeFamily.REMOTE_AUTH_VERIFIED_CERT);
            } else if (p.gotCert()) {
                LOG.info("SERVERHELLO from {}: client certificate issuerName={} subjectName={} verify failed {}: not authenticated",
                        peer, p.issuer(), p.subject(), p.verifyError());
            }
            if (status == 0 && !session.info().ktlsBoth()) {
                status = LibC.EIO;
                why = "ktls not working: " + session.info().ktlsDetail();
            }
            if (status != 0) {
                LOG.error("{} {} {}: {}: DONE with {}", params.messageTypeName(), config.role() == Role.CLIENT ? "to" : "from", peer, why,
                        LibC.strerror(status));
            } else if (config.verbose()) {
                LOG.info("{} {} {}: SSL handshake ok <{} {}> {}{}", params.messageTypeName(), config.role() == Role.CLIENT ? "to" : "from",
                        peer, session.info().protocol(), session.info().cipher(), session.info().ktlsText(),
                        remoteAuth.isEmpty() ? "" : ", client certificate " + p.subject() + " verified");
            }
            sendDone(fd, status, remoteAuth, params.messageTypeName(), peer);
        } finally {
            // The kernel owns the TLS connection now; it sends close_notify itself when it closes.
            session.abandon();
        }
    }

    private void done(HandshakeFamily.AcceptParams params, SocketFd socket, int status, String peer) {
        try (socket) {
            sendDone(socket.fd(), status, List.of(), params.messageTypeName(), peer);
        }
    }

    private void sendDone(int fd, int status, List<Integer> remoteAuth, String what, String peer) {
        try (RawNetlinkSocket s = RawNetlinkSocket.open()) {
            int mySeq = seq.getAndIncrement();
            s.send(HandshakeFamily.done(family.id(), mySeq, status, fd, remoteAuth));
            byte[] ack = s.receive();
            if (ack == null) return;
            for (NetlinkMessage m : NetlinkMessage.parseAll(ack)) {
                if (m.type() == NetlinkMessage.NLMSG_ERROR && m.seq() == mySeq && m.errorCode() != 0) {
                    LOG.error("{} {}: HANDSHAKE_CMD_DONE refused: {}", what, peer, LibC.strerror(-m.errorCode()));
                }
            }
        } catch (IOException | MalformedNetlinkException e) {
            LOG.error("{} {}: HANDSHAKE_CMD_DONE failed: {}", what, peer, e.getMessage());
        }
    }

    static boolean looksLikeIp(String name) {
        return name.indexOf(':') >= 0 || name.chars().allMatch(c -> Character.isDigit(c) || c == '.');
    }

    /**
     * The peer's address for log lines. A peer that reset the connection before we asked has no
     * address any more (getpeername fails with ENOTCONN); then the kernel's PEERNAME (client side)
     * and the reason stand in, so the line still says which request it was about.
     */
    static String peerText(SocketFd fd, HandshakeFamily.AcceptParams params) {
        try {
            var a = Sockets.peerAddress(fd.fd());
            return a == null ? "(not an IP socket)" : a.getAddress().getHostAddress() + ":" + a.getPort();
        } catch (SystemCallException e) {
            String why = e.errno() == LibC.ENOTCONN ? "connection already reset or closed" : e.getMessage();
            return (params.peername() != null ? params.peername() + " " : "") + "(peer address gone: " + why + ")";
        } catch (RuntimeException e) {
            return (params.peername() != null ? params.peername() + " " : "") + "(peer address unknown: " + e.getMessage() + ")";
        }
    }

    @Override
    public void close() {
        closed = true;
        if (notify != null) notify.close();
        sibling.close();
    }
}
