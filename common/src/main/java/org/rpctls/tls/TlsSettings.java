package org.rpctls.tls;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Everything an {@link TlsContext} is built from: the daemons' TLS options.
 *
 * @param role             client (rpc.tlsclntd) or server (rpc.tlsservd)
 * @param certDir          -D: where cert.pem / certkey.pem (and client X.pem / Xkey.pem) live
 * @param loadOwnCert      load certDir/cert.pem + certkey.pem (server: always; client: -m)
 * @param caFile           -l: CA bundle, or null
 * @param caDir            -p: hashed CA directory, or null
 * @param crlFile          -r: PEM CRL file, or null
 * @param allowTls12       -2 (client: use exactly TLS 1.2; server: also accept TLS 1.2)
 * @param ciphersuites     -C: TLS 1.3 ciphersuites, or null for OpenSSL's default
 * @param requestPeerCert  server -m: ask the client for a certificate (never require it)
 * @param systemTrust      client: verify the server against the system trust store when no
 *                         -l/-p is given (Linux semantics); FreeBSD's client does not verify then
 * @param certUserDomain   server -u: map the otherName user@domain to a uid; null = no mapping
 * @param rejectBadPeerCert server: fail the handshake (with an alert) when a client presents a
 *                         certificate that does not verify (Linux, as tlshd); FreeBSD records it in flags
 */
public record TlsSettings(
        Role role,
        Path certDir,
        boolean loadOwnCert,
        Path caFile,
        Path caDir,
        Path crlFile,
        boolean allowTls12,
        String ciphersuites,
        boolean requestPeerCert,
        boolean systemTrust,
        String certUserDomain,
        boolean rejectBadPeerCert) {

    public static final String CERT_FILE = "cert.pem";
    public static final String KEY_FILE = "certkey.pem";

    public TlsSettings {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(certDir, "certDir");
    }

    /** Whether a CA was configured (-l or -p). */
    public boolean hasCa() {
        return caFile != null || caDir != null;
    }

    public Path certFile() {
        return certDir.resolve(CERT_FILE);
    }

    public Path keyFile() {
        return certDir.resolve(KEY_FILE);
    }

    /** Default settings for a role: FreeBSD's certificate directories, nothing else enabled. */
    public static TlsSettings defaults(Role role) {
        Path dir = Path.of(role == Role.SERVER ? "/etc/rpc.tlsservd" : "/etc/rpc.tlsclntd");
        return new TlsSettings(role, dir, role == Role.SERVER, null, null, null, false, null, false, false, null, false);
    }

    public TlsSettings withCertDir(Path dir) {
        return new TlsSettings(role, dir, loadOwnCert, caFile, caDir, crlFile, allowTls12, ciphersuites, requestPeerCert, systemTrust, certUserDomain, rejectBadPeerCert);
    }

    public TlsSettings withOwnCert(boolean load) {
        return new TlsSettings(role, certDir, load, caFile, caDir, crlFile, allowTls12, ciphersuites, requestPeerCert, systemTrust, certUserDomain, rejectBadPeerCert);
    }

    public TlsSettings withCa(Path file, Path dir) {
        return new TlsSettings(role, certDir, loadOwnCert, file, dir, crlFile, allowTls12, ciphersuites, requestPeerCert, systemTrust, certUserDomain, rejectBadPeerCert);
    }

    public TlsSettings withCrl(Path crl) {
        return new TlsSettings(role, certDir, loadOwnCert, caFile, caDir, crl, allowTls12, ciphersuites, requestPeerCert, systemTrust, certUserDomain, rejectBadPeerCert);
    }

    public TlsSettings withTls12(boolean allow) {
        return new TlsSettings(role, certDir, loadOwnCert, caFile, caDir, crlFile, allow, ciphersuites, requestPeerCert, systemTrust, certUserDomain, rejectBadPeerCert);
    }

    public TlsSettings withCiphersuites(String suites) {
        return new TlsSettings(role, certDir, loadOwnCert, caFile, caDir, crlFile, allowTls12, suites, requestPeerCert, systemTrust, certUserDomain, rejectBadPeerCert);
    }

    public TlsSettings withPeerCertRequest(boolean request) {
        return new TlsSettings(role, certDir, loadOwnCert, caFile, caDir, crlFile, allowTls12, ciphersuites, request, systemTrust, certUserDomain, rejectBadPeerCert);
    }

    public TlsSettings withSystemTrust(boolean use) {
        return new TlsSettings(role, certDir, loadOwnCert, caFile, caDir, crlFile, allowTls12, ciphersuites, requestPeerCert, use, certUserDomain, rejectBadPeerCert);
    }

    public TlsSettings withRejectBadPeerCert(boolean reject) {
        return new TlsSettings(role, certDir, loadOwnCert, caFile, caDir, crlFile, allowTls12, ciphersuites, requestPeerCert, systemTrust,
                certUserDomain, reject);
    }

    public TlsSettings withCertUserDomain(String domain) {
        return new TlsSettings(role, certDir, loadOwnCert, caFile, caDir, crlFile, allowTls12, ciphersuites, requestPeerCert, systemTrust, domain, rejectBadPeerCert);
    }
}
