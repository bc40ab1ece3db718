package org.rpctls.tls;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.rpctls.ffi.CStrings;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.LibCrypto;
import org.rpctls.ffi.LibSsl;
import org.rpctls.ffi.OpenSslException;
import org.rpctls.linux.KtlsReceive;
import org.rpctls.sys.FdPoller;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.Sockets;

/**
 * Shakes hands on a connected TCP descriptor, as client or server, within a deadline.
 *
 * <p>The socket is made non-blocking for the handshake and OpenSSL is driven with
 * SSL_do_handshake; when it wants to read or write, the thread parks in {@link FdPoller} until
 * the socket is ready or the deadline passes. So a silent or slow peer ends in a timeout, never
 * a hung thread, and a virtual thread never pins its carrier in a blocking read. The original
 * file status flags are restored afterwards: on FreeBSD O_NONBLOCK is a property of the socket
 * itself, and the kernel RPC code that takes the socket back expects it blocking.
 *
 * <p>Ownership: on success the descriptor moves into the returned {@link TlsSession}; on
 * failure it stays with the caller (FreeBSD's daemons close it, Linux's DONE needs it first).
 */
public final class Handshaker {
    private Handshaker() {}

    /** FreeBSD's kernel gives an upcall 15 s (CLSET_TIMEOUT) and tries once. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(15);

    /**
     * One handshake's parameters.
     *
     * @param timeout    the deadline, from now
     * @param hostCheck  the name the peer certificate must match
     * @param certName   client only: the per-mount certificate X (X.pem, Xkey.pem), or null
     * @param serverName client only: the SNI to send, or null (FreeBSD sends none)
     * @param keyLog     collect the NSS key log lines (traffic secrets) into the session
     * @param cpuSlots   if set, a permit is held only while OpenSSL computes (never while waiting
     *                   for the peer): this bounds the handshakes using CPU at once (-N)
     */
    public record Request(Duration timeout, HostCheck hostCheck, String certName, String serverName, boolean keyLog,
                          Semaphore cpuSlots, DerKeys derKeys) {
        public Request(Duration timeout, HostCheck hostCheck, String certName, String serverName, boolean keyLog, Semaphore cpuSlots) {
            this(timeout, hostCheck, certName, serverName, keyLog, cpuSlots, null);
        }

        public static Request defaults() {
            return new Request(DEFAULT_TIMEOUT, HostCheck.NONE, null, null, false, null);
        }

        /** Client only: use this DER certificate and key (Linux: read from the kernel keyring by serial). */
        public Request withDerKeys(DerKeys keys) {
            return new Request(timeout, hostCheck, certName, serverName, keyLog, cpuSlots, keys);
        }

        public Request withTimeout(Duration t) {
            return new Request(t, hostCheck, certName, serverName, keyLog, cpuSlots);
        }

        public Request withHostCheck(HostCheck h) {
            return new Request(timeout, h, certName, serverName, keyLog, cpuSlots);
        }

        public Request withCertName(String name) {
            return new Request(timeout, hostCheck, name, serverName, keyLog, cpuSlots);
        }

        public Request withServerName(String name) {
            return new Request(timeout, hostCheck, certName, name, keyLog, cpuSlots);
        }

        public Request withKeyLog(boolean on) {
            return new Request(timeout, hostCheck, certName, serverName, on, cpuSlots);
        }

        public Request withCpuSlots(Semaphore slots) {
            return new Request(timeout, hostCheck, certName, serverName, keyLog, slots);
        }
    }

    /** A certificate and private key in DER, as the Linux kernel's keyring holds them. */
    public record DerKeys(byte[] certificate, byte[] privateKey) {}

    /** Runs the handshake on {@code fd} with {@code context}'s role and settings. */
    public static TlsSession handshake(TlsContext context, SocketFd fd, Request request)
            throws HandshakeException, InterruptedException {
        long deadline = System.nanoTime() + request.timeout().toNanos();
        boolean collectSecrets = request.keyLog() || KtlsReceive.kernelHasTls();
        if (collectSecrets && !context.keyLogging()) {
            throw new HandshakeException(HandshakeException.Reason.CONFIG, "TLS context made without key logging (TlsContext.createWithKeyLog)");
        }
        int raw = fd.fd();
        int savedFlags = LibC.fcntl(raw, LibC.F_GETFL);
        if (savedFlags < 0) throw io("fcntl(F_GETFL)");
        if (LibC.fcntl(raw, LibC.F_SETFL, savedFlags | LibC.O_NONBLOCK) < 0) throw io("fcntl(F_SETFL)");

        TlsSettings settings = context.settings();
        LibCrypto.ERR_clear_error();
        MemorySegment ctxRef;
        try {
            ctxRef = context.acquire();
        } catch (IllegalStateException e) {
            LibC.fcntl(raw, LibC.F_SETFL, savedFlags);
            throw new HandshakeException(HandshakeException.Reason.CONFIG, e.getMessage());
        }
        MemorySegment ssl = LibSsl.SSL_new(ctxRef);
        LibSsl.SSL_CTX_free(ctxRef); // the SSL holds its own reference now (or SSL_new failed)
        if (ssl.equals(MemorySegment.NULL)) {
            LibC.fcntl(raw, LibC.F_SETFL, savedFlags);
            throw new HandshakeException(HandshakeException.Reason.IO, new OpenSslException("SSL_new failed").getMessage());
        }
        // Secrets are needed to install kTLS receive for TLS 1.3 by hand, where the kernel has kTLS.
        List<String> keyLog = collectSecrets ? Collections.synchronizedList(new ArrayList<>()) : List.of();
        MemorySegment peerCert = MemorySegment.NULL;
        boolean handedOver = false;
        try {
            if (LibSsl.SSL_set_fd(ssl, raw) != 1) {
                throw new HandshakeException(HandshakeException.Reason.IO, new OpenSslException("SSL_set_fd failed").getMessage());
            }
            if (settings.role() == Role.CLIENT) {
                LibSsl.SSL_set_connect_state(ssl);
                if (request.certName() != null) useCertificate(ssl, CertNames.resolve(settings.certDir(), request.certName()));
                if (request.derKeys() != null) useDer(ssl, request.derKeys());
                if (request.serverName() != null) {
                    try (Arena arena = Arena.ofConfined()) {
                        LibSsl.SSL_set_tlsext_host_name(ssl, arena.allocateFrom(request.serverName()));
                    }
                }
            } else {
                LibSsl.SSL_set_accept_state(ssl);
            }
            if (collectSecrets) OpenSslCallbacks.registerKeylog(ssl, keyLog::add);

            IN_FLIGHT.incrementAndGet();
            try {
                drive(ssl, raw, deadline, request.timeout(), request.cpuSlots());
            } finally {
                IN_FLIGHT.decrementAndGet();
            }

            TlsInfo info = info(ssl);
            boolean manualRx = false;
            if (KtlsReceive.kernelHasTls() && "TLSv1.3".equals(info.protocol()) && info.ktlsSend() && !info.ktlsRecv()) {
                // OpenSSL 3.0 installs only the send side for TLS 1.3; install the receive side ourselves
                try {
                    KtlsReceive.install(ssl, raw, settings.role(), info.cipher(), keyLog);
                    info = info.withKtlsRecv(true, null);
                    manualRx = true;
                } catch (KtlsReceive.KtlsException e) {
                    info = info.withKtlsRecv(false, e.getMessage());
                }
            }
            peerCert = LibSsl.SSL_get1_peer_certificate(ssl);
            PeerCheck peer = checkPeer(ssl, raw, peerCert, settings, request.hostCheck());
            if (LibC.fcntl(raw, LibC.F_SETFL, savedFlags) < 0) throw io("fcntl(F_SETFL)");
            TlsSession session = new TlsSession(settings.role(), ssl, fd.release(), peerCert, info, peer,
                    request.keyLog() ? keyLog : List.of(), manualRx);
            handedOver = true;
            return session;
        } finally {
            if (collectSecrets) OpenSslCallbacks.unregisterKeylog(ssl);
            if (collectSecrets && !request.keyLog()) keyLog.clear();
            if (!handedOver) {
                if (!peerCert.equals(MemorySegment.NULL)) LibCrypto.X509_free(peerCert);
                LibSsl.SSL_free(ssl);
                if (fd.isOpen()) LibC.fcntl(raw, LibC.F_SETFL, savedFlags);
            }
        }
    }

    private static void useCertificate(MemorySegment ssl, CertNames.Files files) throws HandshakeException {
        for (var p : List.of(files.cert(), files.key())) {
            if (!java.nio.file.Files.isReadable(p)) {
                throw new HandshakeException(HandshakeException.Reason.CONFIG, "certificate file " + p + ": not readable or missing");
            }
        }
        try (Arena arena = Arena.ofConfined()) {
            if (LibSsl.SSL_use_certificate_chain_file(ssl, arena.allocateFrom(files.cert().toString())) != 1
                    || LibSsl.SSL_use_PrivateKey_file(ssl, arena.allocateFrom(files.key().toString()), LibSsl.SSL_FILETYPE_PEM) != 1
                    || LibSsl.SSL_check_private_key(ssl) != 1) {
                throw new HandshakeException(HandshakeException.Reason.CONFIG,
                        new OpenSslException("cannot use certificate " + files.cert() + " / key " + files.key()).getMessage());
            }
        }
    }

    private static void useDer(MemorySegment ssl, DerKeys keys) throws HandshakeException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment certBytes = arena.allocate(Math.max(1, keys.certificate().length));
            MemorySegment.copy(MemorySegment.ofArray(keys.certificate()), 0, certBytes, 0, keys.certificate().length);
            MemorySegment keyBytes = arena.allocate(Math.max(1, keys.privateKey().length));
            MemorySegment.copy(MemorySegment.ofArray(keys.privateKey()), 0, keyBytes, 0, keys.privateKey().length);
            // The key now lives in OpenSSL (and in keyBytes until the finally below): wipe the
            // Java copy, which the keyring read made for this one handshake.
            java.util.Arrays.fill(keys.privateKey(), (byte) 0);
            try {
                useDer(ssl, arena.allocate(java.lang.foreign.ValueLayout.ADDRESS), certBytes, keys.certificate().length, keyBytes,
                        keys.privateKey().length);
            } finally {
                keyBytes.fill((byte) 0); // the arena returns it to malloc as it is
            }
        }
    }

    /** d2i of the keyring's certificate and key ({@code pp}: scratch for d2i's in/out pointer) into {@code ssl}. */
    private static void useDer(MemorySegment ssl, MemorySegment pp, MemorySegment certBytes, long certLength, MemorySegment keyBytes,
            long keyLength) throws HandshakeException {
        pp.set(java.lang.foreign.ValueLayout.ADDRESS, 0, certBytes);
        MemorySegment x509 = LibCrypto.d2i_X509(MemorySegment.NULL, pp, certLength);
        if (x509.equals(MemorySegment.NULL)) {
            throw new HandshakeException(HandshakeException.Reason.CONFIG, new OpenSslException("keyring certificate is not DER X.509").getMessage());
        }
        try {
            if (LibSsl.SSL_use_certificate(ssl, x509) != 1) {
                throw new HandshakeException(HandshakeException.Reason.CONFIG, new OpenSslException("cannot use keyring certificate").getMessage());
            }
        } finally {
            LibCrypto.X509_free(x509); // SSL_use_certificate took its own reference
        }
        pp.set(java.lang.foreign.ValueLayout.ADDRESS, 0, keyBytes);
        MemorySegment pkey = LibCrypto.d2i_AutoPrivateKey(MemorySegment.NULL, pp, keyLength);
        if (pkey.equals(MemorySegment.NULL)) {
            throw new HandshakeException(HandshakeException.Reason.CONFIG, new OpenSslException("keyring private key is not DER").getMessage());
        }
        try {
            if (LibSsl.SSL_use_PrivateKey(ssl, pkey) != 1 || LibSsl.SSL_check_private_key(ssl) != 1) {
                throw new HandshakeException(HandshakeException.Reason.CONFIG,
                        new OpenSslException("keyring private key does not match its certificate").getMessage());
            }
        } finally {
            LibCrypto.EVP_PKEY_free(pkey);
        }
    }

    /** The SSL_do_handshake / poll loop. */
    private static void drive(MemorySegment ssl, int fd, long deadline, Duration timeout, Semaphore slots)
            throws HandshakeException, InterruptedException {
        while (true) {
            if (slots != null && !slots.tryAcquire(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                throw new HandshakeException(HandshakeException.Reason.TIMEOUT,
                        "handshake timed out after " + timeout.toMillis() / 1000.0 + " s (waiting for a free handshake slot)");
            }
            int r;
            int errno;
            int err;
            try {
                LibCrypto.ERR_clear_error();
                r = LibSsl.SSL_do_handshake(ssl);
                if (r == 1) return;
                // Read errno and the error queue at once: both belong to this carrier thread only
                // until the virtual thread next parks (releasing a permit never parks).
                errno = LibC.errno();
                err = LibSsl.SSL_get_error(ssl, r);
                if (err != LibSsl.SSL_ERROR_WANT_READ && err != LibSsl.SSL_ERROR_WANT_WRITE) {
                    throw err == LibSsl.SSL_ERROR_SYSCALL ? syscallFailure(errno)
                            : err == LibSsl.SSL_ERROR_ZERO_RETURN ? zeroReturn() : protocolFailure(ssl, err);
                }
            } finally {
                if (slots != null) slots.release();
            }
            switch (err) {
                case LibSsl.SSL_ERROR_WANT_READ -> await(fd, LibC.POLLIN, deadline, timeout);
                default -> await(fd, LibC.POLLOUT, deadline, timeout);
            }
        }
    }

    private static HandshakeException zeroReturn() {
        LibCrypto.ERR_clear_error();
        return new HandshakeException(HandshakeException.Reason.PEER_CLOSED, "peer sent close_notify during the handshake");
    }

    /** Handshakes in {@link #drive}: the direct wait below is for a daemon with one. */
    private static final AtomicInteger IN_FLIGHT = new AtomicInteger();

    /**
     * How long a lone handshake waits for its peer in poll(2) on its own carrier thread before it
     * parks in the shared poller; 0 turns it off (-Drpctls.directWaitMillis). Through the poller a
     * wait costs two wake-ups (the poller's, then the carrier's) and two epoll_ctl calls; blocked in
     * poll(2) the carrier is woken by the socket itself. Only when this is the only handshake in
     * flight (an idle daemon; every FreeBSD 13/14 CONNECT, which the kernel serialises) and there is
     * another carrier for whatever else arrives meanwhile, and only briefly: the carrier is pinned.
     */
    static final int DIRECT_WAIT_MILLIS = Runtime.getRuntime().availableProcessors() > 1
            ? Integer.getInteger("rpctls.directWaitMillis", 5) : 0;

    private static void await(int fd, short events, long deadline, Duration timeout) throws HandshakeException, InterruptedException {
        if (DIRECT_WAIT_MILLIS > 0 && IN_FLIGHT.get() == 1) {
            long left = deadline - System.nanoTime();
            int ms = (int) Math.min(DIRECT_WAIT_MILLIS, Math.max(0, TimeUnit.NANOSECONDS.toMillis(left)));
            if (ms > 0 && FdPoller.readyWithin(fd, events, ms) != 0) return;
        }
        try {
            FdPoller.shared().await(fd, events, deadline);
        } catch (TimeoutException e) {
            throw new HandshakeException(HandshakeException.Reason.TIMEOUT,
                    "handshake timed out after " + timeout.toMillis() / 1000.0 + " s (peer "
                            + (events == LibC.POLLIN ? "silent" : "not reading") + ")");
        }
    }

    private static HandshakeException syscallFailure(int errno) {
        List<String> queue = OpenSslException.drainErrorQueue();
        if (!queue.isEmpty()) {
            return new HandshakeException(HandshakeException.Reason.PROTOCOL, String.join("; ", queue));
        }
        if (errno == 0) {
            return new HandshakeException(HandshakeException.Reason.PEER_CLOSED, "peer closed the connection during the handshake");
        }
        String text = LibC.strerror(errno);
        boolean reset = text.toLowerCase().contains("reset") || text.toLowerCase().contains("broken pipe");
        return new HandshakeException(reset ? HandshakeException.Reason.PEER_CLOSED : HandshakeException.Reason.IO,
                "socket error during the handshake: " + text + " (errno " + errno + ")");
    }

    private static HandshakeException protocolFailure(MemorySegment ssl, int err) {
        List<String> queue = OpenSslException.drainErrorQueue();
        long verify = LibSsl.SSL_get_verify_result(ssl);
        String text = queue.isEmpty() ? "SSL_do_handshake failed (SSL_get_error " + err + ")" : String.join("; ", queue);
        if (verify != LibCrypto.X509_V_OK && queue.stream().anyMatch(q -> q.contains("certificate verify failed"))) {
            return new HandshakeException(HandshakeException.Reason.VERIFY,
                    "peer certificate verify failed: " + LibCrypto.X509_verify_cert_error_string(verify), verify);
        }
        return new HandshakeException(HandshakeException.Reason.PROTOCOL, text);
    }

    private static HandshakeException io(String call) {
        return new HandshakeException(HandshakeException.Reason.IO, call + ": " + LibC.strerror(LibC.errno()));
    }

    static TlsInfo info(MemorySegment ssl) {
        String cipher = LibSsl.SSL_CIPHER_get_name(LibSsl.SSL_get_current_cipher(ssl));
        String alpn;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(java.lang.foreign.ValueLayout.ADDRESS);
            MemorySegment len = arena.allocate(java.lang.foreign.ValueLayout.JAVA_INT);
            LibSsl.SSL_get0_alpn_selected(ssl, data, len);
            int n = len.get(java.lang.foreign.ValueLayout.JAVA_INT, 0);
            alpn = n > 0 ? new String(CStrings.bytes(data.get(java.lang.foreign.ValueLayout.ADDRESS, 0), n), java.nio.charset.StandardCharsets.ISO_8859_1) : null;
        }
        boolean send = LibCrypto.BIO_get_ktls_send(LibSsl.SSL_get_wbio(ssl));
        boolean recv = LibCrypto.BIO_get_ktls_recv(LibSsl.SSL_get_rbio(ssl));
        return new TlsInfo(LibSsl.SSL_get_version(ssl), cipher, alpn, send, recv);
    }

    /** Gathers the peer certificate verdict (FreeBSD §2.2 step 5-6, §2.3 step 3). */
    static PeerCheck checkPeer(MemorySegment ssl, int fd, MemorySegment cert, TlsSettings settings, HostCheck hostCheck) {
        if (cert.equals(MemorySegment.NULL)) return PeerCheck.none();
        String subject = X509Names.subject(cert);
        String issuer = X509Names.issuer(cert);
        long verify = LibSsl.SSL_get_verify_result(ssl);
        String verifyError = LibCrypto.X509_verify_cert_error_string(verify);

        boolean checked = !(hostCheck instanceof HostCheck.None);
        Optional<String> name = switch (hostCheck) {
            case HostCheck.None n -> Optional.empty();
            case HostCheck.ReverseDns r -> Sockets.reverseName(fd);
            case HostCheck.Name n -> Optional.ofNullable(n.name()).filter(s -> !s.isEmpty());
        };
        boolean matches = name.isPresent() && X509Names.checkHost(cert, name.get(), hostCheck.flags());

        Optional<org.rpctls.sys.Users.Identity> user = Optional.empty();
        String userNote = null;
        if (settings.certUserDomain() != null && verify == LibCrypto.X509_V_OK) {
            CertUserMapper.Result r = CertUserMapper.map(cert, settings.certUserDomain());
            user = r.identity();
            userNote = r.note();
        }
        return new PeerCheck(true, subject, issuer, verify, verifyError, name, checked, matches, user, userNote);
    }
}
