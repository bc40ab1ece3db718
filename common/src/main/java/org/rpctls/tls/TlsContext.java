package org.rpctls.tls;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.rpctls.ffi.LibCrypto;
import org.rpctls.ffi.LibSsl;
import org.rpctls.ffi.OpenSslException;

/**
 * One SSL_CTX built from {@link TlsSettings}, as FreeBSD's rpctls_setupssl() builds it, and the
 * CRLs loaded into it. Immutable once built: a reload builds a new context, new handshakes
 * use it, and SSL objects already made keep the old SSL_CTX alive through OpenSSL's own
 * reference count, so {@link #close()} is safe while sessions made from it live on.
 */
public final class TlsContext implements AutoCloseable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TlsContext.class);
    private final TlsSettings settings;
    private final MemorySegment ctx;
    /** CRLs read from -r, owned here (the store holds its own references) for revocation re-checks. */
    private final List<MemorySegment> crls;
    private final java.util.concurrent.locks.ReentrantLock lock = new java.util.concurrent.locks.ReentrantLock();
    private boolean closed;

    private TlsContext(TlsSettings settings, MemorySegment ctx, List<MemorySegment> crls) {
        this.settings = settings;
        this.ctx = ctx;
        this.crls = crls;
    }

    public TlsSettings settings() {
        return settings;
    }

    /**
     * A reference of its own to the SSL_CTX for one SSL_new, which the caller frees with
     * SSL_CTX_free right after: a reload may close this context at any moment, and OpenSSL's
     * reference count then keeps the SSL_CTX alive for a handshake that just picked it.
     */
    MemorySegment acquire() {
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("TLS context closed (reloaded)");
            LibSsl.SSL_CTX_up_ref(ctx);
            return ctx;
        } finally {
            lock.unlock();
        }
    }

    /** Builds the context; every failure names the file or option and OpenSSL's reason. */
    public static TlsContext create(TlsSettings s) throws TlsConfigException {
        LibCrypto.ERR_clear_error();
        MemorySegment method = s.role() == Role.SERVER ? LibSsl.TLS_server_method() : LibSsl.TLS_client_method();
        MemorySegment ctx = LibSsl.SSL_CTX_new(method);
        if (ctx.equals(MemorySegment.NULL)) throw new TlsConfigException(openssl("SSL_CTX_new failed"));
        List<MemorySegment> crls = new ArrayList<>();
        boolean ok = false;
        try (Arena arena = Arena.ofConfined()) {
            long options = LibSsl.SSL_OP_ENABLE_KTLS;
            if (s.role() == Role.SERVER) options |= LibSsl.SSL_OP_NO_TICKET;
            LibSsl.SSL_CTX_set_options(ctx, options);
            LibSsl.SSL_CTX_set_mode(ctx, LibSsl.SSL_MODE_ENABLE_PARTIAL_WRITE | LibSsl.SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
            setVersions(ctx, s);
            if (s.ciphersuites() != null
                    && LibSsl.SSL_CTX_set_ciphersuites(ctx, arena.allocateFrom(s.ciphersuites())) != 1) {
                throw new TlsConfigException(openssl("invalid TLS 1.3 ciphersuites \"" + s.ciphersuites() + "\""));
            }
            if (s.role() == Role.SERVER) {
                // Kernels (FreeBSD's krpc, Linux's sunrpc) never resume sessions; a ticket would
                // only be a stray post-handshake record in the kTLS receive queue.
                LibSsl.SSL_CTX_set_num_tickets(ctx, 0);
                LibSsl.SSL_CTX_set_session_cache_mode(ctx, LibSsl.SSL_SESS_CACHE_OFF);
            }
            if (s.loadOwnCert()) {
                loadCertificate(ctx, arena, s.certFile(), s.keyFile());
            }
            loadTrust(ctx, arena, s);
            if (s.crlFile() != null && verifiesPeer(s)) {
                loadCrls(ctx, arena, s.crlFile(), crls);
            }
            if (s.role() == Role.SERVER) {
                if (s.requestPeerCert()) {
                    // FreeBSD: never fail on a bad client certificate, report it in the flags.
                    // Linux (as tlshd): a presented certificate that does not verify ends the handshake with an alert.
                    LibSsl.SSL_CTX_set_verify(ctx, LibSsl.SSL_VERIFY_PEER, s.rejectBadPeerCert() ? MemorySegment.NULL : OpenSslCallbacks.VERIFY_ACCEPT_ALL);
                }
                LibSsl.SSL_CTX_set_alpn_select_cb(ctx, OpenSslCallbacks.ALPN_SELECT, MemorySegment.NULL);
            } else {
                if (s.hasCa() || s.systemTrust()) {
                    LibSsl.SSL_CTX_set_verify(ctx, LibSsl.SSL_VERIFY_PEER, MemorySegment.NULL);
                }
                byte[] protos = new byte[OpenSslCallbacks.ALPN_SUNRPC.length + 1];
                protos[0] = (byte) OpenSslCallbacks.ALPN_SUNRPC.length;
                System.arraycopy(OpenSslCallbacks.ALPN_SUNRPC, 0, protos, 1, OpenSslCallbacks.ALPN_SUNRPC.length);
                MemorySegment p = arena.allocate(protos.length);
                MemorySegment.copy(MemorySegment.ofArray(protos), 0, p, 0, protos.length);
                if (LibSsl.SSL_CTX_set_alpn_protos(ctx, p, protos.length) != 0) {
                    throw new TlsConfigException(openssl("SSL_CTX_set_alpn_protos failed"));
                }
            }
            LibSsl.SSL_CTX_set_keylog_callback(ctx, OpenSslCallbacks.KEYLOG);
            ok = true;
            return new TlsContext(s, ctx, List.copyOf(crls));
        } finally {
            if (!ok) {
                crls.forEach(LibCrypto::X509_CRL_free);
                LibSsl.SSL_CTX_free(ctx);
            }
        }
    }

    /** Whether this configuration verifies the peer at all, so that a CRL has any use (FreeBSD §3.3). */
    private static boolean verifiesPeer(TlsSettings s) {
        return (s.hasCa() || s.systemTrust()) && (s.role() == Role.CLIENT || s.requestPeerCert());
    }

    private static void setVersions(MemorySegment ctx, TlsSettings s) throws TlsConfigException {
        int min;
        int max;
        if (s.role() == Role.CLIENT) {
            // FreeBSD's client: exactly one version, 1.3, or 1.2 with -2 (for 13.0/13.1 servers).
            min = max = s.allowTls12() ? LibSsl.TLS1_2_VERSION : LibSsl.TLS1_3_VERSION;
        } else {
            min = s.allowTls12() ? LibSsl.TLS1_2_VERSION : LibSsl.TLS1_3_VERSION;
            max = LibSsl.TLS1_3_VERSION;
        }
        if (!LibSsl.SSL_CTX_set_min_proto_version(ctx, min) || !LibSsl.SSL_CTX_set_max_proto_version(ctx, max)) {
            throw new TlsConfigException(openssl("cannot restrict protocol versions"));
        }
    }

    static void loadCertificate(MemorySegment ctx, Arena arena, Path cert, Path key) throws TlsConfigException {
        requireReadable(cert, "certificate");
        requireReadable(key, "private key");
        warnIfReadableByOthers(key);
        if (LibSsl.SSL_CTX_use_certificate_chain_file(ctx, arena.allocateFrom(cert.toString())) != 1) {
            throw new TlsConfigException(openssl("cannot load certificate " + cert));
        }
        if (LibSsl.SSL_CTX_use_PrivateKey_file(ctx, arena.allocateFrom(key.toString()), LibSsl.SSL_FILETYPE_PEM) != 1) {
            var queue = OpenSslException.drainErrorQueue();
            if (queue.stream().anyMatch(e -> e.contains("key values mismatch"))) {
                throw new TlsConfigException("private key " + key + " does not match certificate " + cert);
            }
            throw new TlsConfigException("cannot load private key " + key + ": " + String.join("; ", queue));
        }
        if (LibSsl.SSL_CTX_check_private_key(ctx) != 1) {
            throw new TlsConfigException(openssl("private key " + key + " does not match certificate " + cert));
        }
    }

    private static void loadTrust(MemorySegment ctx, Arena arena, TlsSettings s) throws TlsConfigException {
        if (s.caFile() != null) {
            requireReadable(s.caFile(), "CA file");
            MemorySegment file = arena.allocateFrom(s.caFile().toString());
            if (LibSsl.SSL_CTX_load_verify_file(ctx, file) != 1) {
                throw new TlsConfigException(openssl("cannot load CA file " + s.caFile()));
            }
            // The CA names go into the CertificateRequest (server) / certificate_authorities
            // extension (client), as FreeBSD's daemons send them.
            MemorySegment names = LibSsl.SSL_load_client_CA_file(file);
            if (names.equals(MemorySegment.NULL)) {
                throw new TlsConfigException(openssl("cannot read CA names from " + s.caFile()));
            }
            if (s.role() == Role.SERVER) LibSsl.SSL_CTX_set_client_CA_list(ctx, names);
            else LibSsl.SSL_CTX_set0_CA_list(ctx, names);
        }
        if (s.caDir() != null) {
            if (!Files.isDirectory(s.caDir())) {
                throw new TlsConfigException("CA directory " + s.caDir() + ": not a directory");
            }
            if (LibSsl.SSL_CTX_load_verify_dir(ctx, arena.allocateFrom(s.caDir().toString())) != 1) {
                throw new TlsConfigException(openssl("cannot use CA directory " + s.caDir()));
            }
        }
        if (!s.hasCa() && s.systemTrust() && LibSsl.SSL_CTX_set_default_verify_paths(ctx) != 1) {
            throw new TlsConfigException(openssl("cannot load the system trust store"));
        }
    }

    private static void loadCrls(MemorySegment ctx, Arena arena, Path crlFile, List<MemorySegment> out) throws TlsConfigException {
        readCrls(arena, crlFile, out);
        MemorySegment store = LibSsl.SSL_CTX_get_cert_store(ctx);
        for (MemorySegment crl : out) {
            if (LibCrypto.X509_STORE_add_crl(store, crl) != 1) {
                throw new TlsConfigException(openssl("cannot add CRL from " + crlFile));
            }
        }
        LibCrypto.X509_STORE_set_flags(store, LibCrypto.X509_V_FLAG_CRL_CHECK | LibCrypto.X509_V_FLAG_CRL_CHECK_ALL);
    }

    /** Reads every PEM CRL in {@code file}; at least one is required. */
    static void readCrls(Arena arena, Path file, List<MemorySegment> out) throws TlsConfigException {
        requireReadable(file, "CRL file");
        MemorySegment bio = LibCrypto.BIO_new_file(arena.allocateFrom(file.toString()), arena.allocateFrom("r"));
        if (bio.equals(MemorySegment.NULL)) throw new TlsConfigException(openssl("cannot open CRL file " + file));
        try {
            while (true) {
                MemorySegment crl = LibCrypto.PEM_read_bio_X509_CRL(bio, MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL);
                if (crl.equals(MemorySegment.NULL)) break;
                out.add(crl);
            }
            // Reading stops at end of file with a "no start line" error; anything else was garbage.
            var queue = OpenSslException.drainErrorQueue();
            boolean clean = queue.stream().allMatch(e -> e.contains("no start line"));
            if (out.isEmpty() || !clean) {
                throw new TlsConfigException("cannot read CRL file " + file + ": "
                        + (queue.isEmpty() ? "no CRL found" : String.join("; ", queue)));
            }
        } finally {
            LibCrypto.BIO_free(bio);
        }
    }

    /**
     * A private key any local user can read is a key every local user has: warn (as ssh does),
     * but go on, since FreeBSD's daemons load it regardless and refusing would break a working
     * setup on upgrade. A group-readable key is left alone: Debian's ssl-cert group does that on purpose.
     */
    private static void warnIfReadableByOthers(Path key) {
        try {
            var perms = Files.getPosixFilePermissions(key);
            if (perms.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_READ)) {
                LOG.warn("private key {} is readable by all users (mode {}); it should be 0600 or 0640",
                        key, String.format("%04o", modeBits(perms)));
            }
        } catch (java.io.IOException | UnsupportedOperationException e) {
            // not a POSIX file system: nothing to say
        }
    }

    private static int modeBits(java.util.Set<java.nio.file.attribute.PosixFilePermission> perms) {
        int mode = 0;
        for (var p : perms) mode |= 0400 >> p.ordinal();
        return mode;
    }

    private static void requireReadable(Path p, String what) throws TlsConfigException {
        if (!Files.exists(p)) throw new TlsConfigException(what + " " + p + ": No such file or directory");
        if (!Files.isRegularFile(p)) throw new TlsConfigException(what + " " + p + ": not a regular file");
        if (!Files.isReadable(p)) throw new TlsConfigException(what + " " + p + ": Permission denied");
    }

    private static String openssl(String what) {
        return new OpenSslException(what).getMessage();
    }

    /** Whether {@code x509} (an X509*) is listed in one of this context's CRLs. */
    public boolean isRevoked(MemorySegment x509) {
        lock.lock();
        try {
            if (closed) return false;
            for (MemorySegment crl : crls) {
                if (LibCrypto.X509_CRL_get0_by_cert(crl, MemorySegment.NULL, x509) == 1) return true;
            }
            return false;
        } finally {
            lock.unlock();
        }
    }

    public boolean hasCrl() {
        return !crls.isEmpty();
    }

    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            crls.forEach(LibCrypto::X509_CRL_free);
            LibSsl.SSL_CTX_free(ctx);
        } finally {
            lock.unlock();
        }
    }
}
