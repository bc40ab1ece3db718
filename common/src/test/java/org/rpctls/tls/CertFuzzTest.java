package org.rpctls.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import org.rpctls.ffi.LibCrypto;

/**
 * Names that come from outside and reach file names, getpwnam or log lines: the per-mount
 * certificate name of a client CONNECT (kernel bytes), the otherName "user@domain" of a client
 * certificate, and the peer certificate itself (subject, issuer, host check, otherName walk
 * through OpenSSL).
 */
class CertFuzzTest {
    static final Path CERT_DIR = Path.of("/etc/rpc.tlsclntd");
    static final String DOMAIN = "example.org";

    /**
     * The certname bytes of a CONNECT, as UpcallHandler turns them into a name (ISO-8859-1) and
     * Handshaker into files. Contract: HandshakeException, or two files directly inside the
     * certificate directory named NAME.pem and NAMEkey.pem.
     */
    @FuzzTest(maxDuration = "30s")
    void certName(byte[] certname) {
        String name = new String(certname, StandardCharsets.ISO_8859_1);
        CertNames.Files files;
        try {
            files = CertNames.resolve(CERT_DIR, name);
        } catch (HandshakeException e) {
            assertNotNull(CertNames.problem(name));
            assertTrue(e.getMessage().chars().allMatch(c -> c >= 0x20 && c < 0x7f), "unprintable character in the log message");
            return;
        }
        for (Path p : new Path[] {files.cert(), files.key()}) {
            assertEquals(CERT_DIR, p.normalize().getParent(), "file outside the certificate directory: " + p);
            assertEquals(p, p.normalize(), "path with . or .. parts: " + p);
        }
        assertEquals(name + ".pem", files.cert().getFileName().toString());
        assertEquals(name + "key.pem", files.key().getFileName().toString());
    }

    /**
     * The otherName 1.3.6.1.4.1.2238.1.1.1 value of a client certificate (rpc.tlsservd -u).
     * Contract: empty, or a user name without control characters such that the value is that
     * name followed by "@" + domain, ignoring case.
     */
    @FuzzTest(maxDuration = "30s")
    void otherNameValue(byte[] value) {
        Optional<String> user = CertUserMapper.userPart(value, DOMAIN);
        if (user.isEmpty()) return;
        String u = user.get();
        assertFalse(u.isEmpty());
        assertTrue(u.chars().noneMatch(c -> c < 0x20 || c == 0x7f), "control character in user name");
        String text = new String(value, StandardCharsets.UTF_8);
        assertTrue(text.startsWith(u), "user name is not the start of the value");
        assertTrue(text.substring(u.length()).equalsIgnoreCase("@" + DOMAIN), "value " + text + " does not end in @" + DOMAIN);
    }

    /**
     * A DER certificate as a peer sends it: everything the daemon reads from a peer
     * certificate (subject and issuer lines, host checks by name and by address, the otherName
     * walk). Contract: no exception, and the JVM survives (OpenSSL's parsers and our FFM reads).
     */
    @FuzzTest(maxDuration = "30s")
    void peerCertificate(byte[] der) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bytes = arena.allocate(Math.max(1, der.length));
            MemorySegment.copy(MemorySegment.ofArray(der), 0, bytes, 0, der.length);
            MemorySegment pp = arena.allocate(ValueLayout.ADDRESS);
            pp.set(ValueLayout.ADDRESS, 0, bytes);
            MemorySegment x509 = LibCrypto.d2i_X509(MemorySegment.NULL, pp, der.length);
            if (x509.equals(MemorySegment.NULL)) {
                LibCrypto.ERR_clear_error();
                return;
            }
            try {
                assertNotNull(X509Names.subject(x509));
                assertNotNull(X509Names.issuer(x509));
                X509Names.checkHost(x509, "nfs.example.org", 0);
                X509Names.checkHost(x509, "nfs.example.org", HostCheck.NO_WILDCARDS);
                X509Names.checkHost(x509, "192.0.2.1", 0);
                X509Names.checkHost(x509, "2001:db8::1", 0);
                Optional<String> user = CertUserMapper.userFromCertificate(x509, DOMAIN);
                user.ifPresent(u -> assertTrue(u.chars().noneMatch(c -> c < 0x20 || c == 0x7f)));
            } finally {
                LibCrypto.X509_free(x509);
                LibCrypto.ERR_clear_error();
            }
        }
    }
}
