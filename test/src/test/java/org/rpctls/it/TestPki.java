package org.rpctls.it;

import java.nio.file.Files;
import java.nio.file.Path;
import org.rpctls.tls.Role;
import org.rpctls.tls.TlsSettings;

/**
 * The certificates every integration test uses, made once per test JVM with openssl:
 * a CA ("main") with good, expired, revoked, wrong-host, wildcard and otherName certificates and
 * a CRL; a second CA nobody trusts ("rogue"); and self-signed certificates.
 */
public final class TestPki {
    public static final String USER_DOMAIN = "example.org";

    public final Path base;
    public final Pki main;
    public final Pki rogue;
    public final Pki self;
    public final Path crl;
    /** Daemon certificate directories: cert.pem/certkey.pem (+ alt.pem/altkey.pem for the client). */
    public final Path serverDir;
    public final Path clientDir;

    private static TestPki instance;

    public static synchronized TestPki get() throws Exception {
        if (instance == null) {
            Path dir = Files.createTempDirectory("rpctls-pki");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(dir)));
            instance = new TestPki(dir);
        }
        return instance;
    }

    private TestPki(Path base) throws Exception {
        this.base = base;
        main = Pki.create(base, "main");
        main.issue("server", Pki.Spec.server("localhost", "DNS:localhost", "IP:127.0.0.1"));
        main.issue("serverfar", Pki.Spec.server("other.example", "DNS:other.example"));
        main.issue("serverold", Pki.Spec.server("localhost", "DNS:localhost").valid("20200101000000Z", "20200201000000Z"));
        main.issue("serverrevoked", Pki.Spec.server("localhost", "DNS:localhost"));
        main.issue("wild", Pki.Spec.client("wildcard", "DNS:*.example.com"));
        main.issue("client", Pki.Spec.client("nfsclient", "DNS:localhost",
                "otherName:1.3.6.1.4.1.2238.1.1.1;UTF8:daemon@" + USER_DOMAIN));
        main.issue("alt", Pki.Spec.client("alt", "DNS:localhost"));
        main.issue("clientfar", Pki.Spec.client("elsewhere", "DNS:other.example"));
        main.issue("clientold", Pki.Spec.client("old", "DNS:localhost").valid("20200101000000Z", "20200201000000Z"));
        main.issue("clientrevoked", Pki.Spec.client("revoked", "DNS:localhost"));
        main.issue("userwrongdomain", Pki.Spec.client("wrongdomain", "otherName:1.3.6.1.4.1.2238.1.1.1;UTF8:daemon@example.com"));
        main.issue("userunknown", Pki.Spec.client("unknownuser", "otherName:1.3.6.1.4.1.2238.1.1.1;UTF8:nosuchuser@" + USER_DOMAIN));
        main.revoke("serverrevoked");
        main.revoke("clientrevoked");
        crl = main.crl(base.resolve("crl.pem"));

        rogue = Pki.create(base, "rogue");
        rogue.issue("server", Pki.Spec.server("localhost", "DNS:localhost", "IP:127.0.0.1"));
        rogue.issue("client", Pki.Spec.client("rogueclient", "DNS:localhost"));

        self = Pki.create(base, "self");
        self.selfSigned("server", "localhost", "DNS:localhost");
        self.selfSigned("client", "selfclient", "DNS:localhost");

        serverDir = main.installAs("server", base.resolve("serverdir"));
        clientDir = main.installAs("client", base.resolve("clientdir"));
        Files.copy(main.cert("alt"), clientDir.resolve("alt.pem"));
        Files.copy(main.key("alt"), clientDir.resolve("altkey.pem"));
    }

    static void deleteTree(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (Exception e) {
            // best effort: a temp directory
        }
    }

    /** A directory holding CA's NAME as cert.pem/certkey.pem. */
    public synchronized Path certDir(Pki ca, String name) throws Exception {
        // Installed once: concurrent test peers (HostilePeerTest's cases run at once) ask for the
        // same directory, and re-copying under a peer that is loading it made that load fail.
        Path dir = base.resolve("dirs").resolve(ca.dir.getFileName() + "-" + name);
        Path cert = dir.resolve(TlsSettings.CERT_FILE);
        if (Files.isRegularFile(cert) && Files.mismatch(cert, ca.cert(name)) == -1) return dir;
        return ca.installAs(name, dir);
    }

    /** Server settings with this PKI's server certificate, TLS 1.3 only. */
    public TlsSettings server() {
        return TlsSettings.defaults(Role.SERVER).withCertDir(serverDir);
    }

    /** Server settings that ask for a client certificate and verify it against the main CA (-m -l). */
    public TlsSettings mutualServer() {
        return server().withPeerCertRequest(true).withCa(main.caCert, null);
    }

    /** Client settings verifying the server against the main CA (-l), no client certificate. */
    public TlsSettings client() {
        return TlsSettings.defaults(Role.CLIENT).withCertDir(clientDir).withCa(main.caCert, null);
    }
}
