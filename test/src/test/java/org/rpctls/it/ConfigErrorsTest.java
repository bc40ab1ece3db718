package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rpctls.tls.TlsConfigException;
import org.rpctls.tls.TlsContext;

/** Missing, unreadable or garbage files and bad options give a clear message naming the file. */
class ConfigErrorsTest {
    static TestPki pki;
    static Path scratch;

    @BeforeAll
    static void setUp() throws Exception {
        pki = TestPki.get();
        scratch = Files.createDirectories(pki.base.resolve("config-errors"));
    }

    private static String fails(org.rpctls.tls.TlsSettings s) {
        var e = assertThrows(TlsConfigException.class, () -> TlsContext.create(s).close());
        System.out.println("config error: " + e.getMessage());
        return e.getMessage();
    }

    private static Path dirWith(String name, String cert, String key) throws Exception {
        Path d = Files.createDirectories(scratch.resolve(name));
        if (cert != null) Files.writeString(d.resolve("cert.pem"), cert);
        if (key != null) Files.writeString(d.resolve("certkey.pem"), key);
        return d;
    }

    @Test
    void missingCertificate() throws Exception {
        String m = fails(pki.server().withCertDir(dirWith("empty", null, null)));
        assertTrue(m.matches("certificate .*/empty/cert.pem: No such file or directory"), m);
    }

    @Test
    void garbageCertificate() throws Exception {
        String m = fails(pki.server().withCertDir(dirWith("garbage", "not a certificate\n", Files.readString(pki.main.key("server")))));
        assertTrue(m.startsWith("cannot load certificate ") && m.contains("no start line"), m);
    }

    @Test
    void garbageKey() throws Exception {
        String m = fails(pki.server().withCertDir(dirWith("badkey", Files.readString(pki.main.cert("server")), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")));
        assertTrue(m.startsWith("cannot load private key "), m);
    }

    @Test
    void keyThatDoesNotMatchTheCertificate() throws Exception {
        String m = fails(pki.server().withCertDir(dirWith("mismatch", Files.readString(pki.main.cert("server")), Files.readString(pki.main.key("client")))));
        assertTrue(m.contains("does not match certificate"), m);
    }

    @Test
    void unreadableKey() throws Exception {
        Path d = dirWith("unreadable", Files.readString(pki.main.cert("server")), Files.readString(pki.main.key("server")));
        Files.setPosixFilePermissions(d.resolve("certkey.pem"), java.util.Set.of());
        // root reads anything; as another user this is "Permission denied"
        if (System.getProperty("user.name").equals("root")) {
            TlsContext.create(pki.server().withCertDir(d)).close();
            System.out.println("note: running as root, an unreadable mode 000 key is still readable");
        } else {
            assertTrue(fails(pki.server().withCertDir(d)).endsWith("Permission denied"));
        }
    }

    @Test
    void missingAndGarbageCaFile() throws Exception {
        assertTrue(fails(pki.mutualServer().withCa(scratch.resolve("nope.pem"), null)).endsWith("No such file or directory"));
        Path junk = Files.writeString(scratch.resolve("junk-ca.pem"), "junk\n");
        String m = fails(pki.mutualServer().withCa(junk, null));
        assertTrue(m.startsWith("cannot load CA file") || m.startsWith("cannot read CA names"), m);
    }

    @Test
    void caDirectoryThatIsAFile() throws Exception {
        assertTrue(fails(pki.mutualServer().withCa(null, pki.main.caCert)).endsWith("not a directory"));
    }

    @Test
    void missingAndGarbageCrl() throws Exception {
        assertTrue(fails(pki.mutualServer().withCrl(scratch.resolve("nocrl.pem"))).endsWith("No such file or directory"));
        Path junk = Files.writeString(scratch.resolve("junk-crl.pem"), "-----BEGIN X509 CRL-----\nZZZZ\n-----END X509 CRL-----\n");
        assertTrue(fails(pki.mutualServer().withCrl(junk)).startsWith("cannot read CRL file"));
        Path empty = Files.writeString(scratch.resolve("empty-crl.pem"), "");
        assertTrue(fails(pki.mutualServer().withCrl(empty)).startsWith("cannot read CRL file"));
    }

    @Test
    void badCiphersuites() throws Exception {
        String m = fails(pki.server().withCiphersuites("TLS_NO_SUCH_SUITE"));
        assertTrue(m.startsWith("invalid TLS 1.3 ciphersuites \"TLS_NO_SUCH_SUITE\""), m);
    }
}
