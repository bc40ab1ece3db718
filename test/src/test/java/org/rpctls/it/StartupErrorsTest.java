package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rpctls.tls.Role;

/**
 * The daemons as an operator starts them with broken files or flags: a one-line message naming
 * the file or option, FreeBSD's exit status 1, and nothing half-started (no pidfile, no upcall
 * socket file). ConfigErrorsTest covers the messages of the TLS context alone; this is the whole
 * process, both daemons.
 */
class StartupErrorsTest {
    static TestPki pki;

    @BeforeAll
    static void setUp() throws Exception {
        pki = TestPki.get();
    }

    /** Starts a daemon that must fail: returns its output after checking status 1 and an empty emulated-kernel dir. */
    static String failsToStart(Role role, String... args) throws Exception {
        Path dir = Files.createTempDirectory(pki.base, "startup");
        List<String> all = new ArrayList<>(List.of("-d", "--emulated-kernel=" + dir));
        all.addAll(List.of(args));
        try (var d = DaemonProcess.start(role, all.toArray(String[]::new))) {
            int status = d.waitFor(Duration.ofSeconds(30));
            String out = d.log();
            System.out.println(role + " " + String.join(" ", args) + " -> exit " + status + ": " + out.replace('\n', '|'));
            assertEquals(1, status, out);
            try (var left = Files.list(dir)) {
                assertEquals(List.of(), left.toList(), "files left behind by a daemon that did not start");
            }
            return out;
        }
    }

    static Path copyOfServerDir(String name, String keyMode) throws Exception {
        Path d = Files.createDirectories(pki.base.resolve(name));
        Files.copy(pki.serverDir.resolve("cert.pem"), d.resolve("cert.pem"));
        Files.copy(pki.serverDir.resolve("certkey.pem"), d.resolve("certkey.pem"));
        Files.setPosixFilePermissions(d.resolve("certkey.pem"), PosixFilePermissions.fromString(keyMode));
        return d;
    }

    @Test
    void missingCertificateDirectory() throws Exception {
        String out = failsToStart(Role.SERVER, "-D", "/nonexistent/rpctls");
        assertTrue(out.contains("rpc.tlsservd: Can't set up TLS context: certificate /nonexistent/rpctls/cert.pem: No such file or directory"), out);
    }

    @Test
    void keyThatDoesNotMatchItsCertificate() throws Exception {
        Path d = Files.createDirectories(pki.base.resolve("startup-mismatch"));
        Files.copy(pki.main.cert("server"), d.resolve("cert.pem"));
        Files.copy(pki.main.key("client"), d.resolve("certkey.pem"));
        String out = failsToStart(Role.SERVER, "-D", d.toString());
        assertTrue(out.contains("private key " + d.resolve("certkey.pem") + " does not match certificate " + d.resolve("cert.pem")), out);
    }

    @Test
    void garbageAndMissingCaAndCrlFiles() throws Exception {
        Path junk = Files.writeString(pki.base.resolve("startup-junk.pem"), "junk\n");
        String out = failsToStart(Role.SERVER, "-D", pki.serverDir.toString(), "-m", "-l", junk.toString());
        assertTrue(out.contains("Can't set up TLS context: ") && out.contains(junk.toString()), out);
        out = failsToStart(Role.SERVER, "-D", pki.serverDir.toString(), "-m", "-l", pki.main.caCert.toString(), "-r", "/nonexistent/crl.pem");
        assertTrue(out.contains("/nonexistent/crl.pem: No such file or directory"), out);
        out = failsToStart(Role.CLIENT, "-l", "/nonexistent/ca.pem");
        assertTrue(out.contains("rpc.tlsclntd: Can't set up TLS context: ") && out.contains("/nonexistent/ca.pem: No such file or directory"), out);
        out = failsToStart(Role.CLIENT, "-D", "/nonexistent/clientdir", "-m", "-l", pki.main.caCert.toString());
        assertTrue(out.contains("/nonexistent/clientdir/cert.pem: No such file or directory"), out);
    }

    @Test
    void conflictingAndIncompleteFlagsGiveFreeBsdsMessages() throws Exception {
        String ca = pki.main.caCert.toString();
        assertTrue(failsToStart(Role.SERVER, "-h", "-m", "-l", ca, "-w", "-W").contains("options -w and -W are mutually exclusive"));
        assertTrue(failsToStart(Role.SERVER, "-m").contains("-m requires the -l <CAfile> and/or -p <CApath> options"));
        assertTrue(failsToStart(Role.SERVER, "-h", "-l", ca).contains("-h requires the -m plus the -l <CAfile> and/or -p <CApath> options"));
        assertTrue(failsToStart(Role.SERVER, "-w").contains("The -w or -W options require the -h option"));
        assertTrue(failsToStart(Role.SERVER, "-u").contains("-u requires the -m plus the -l <CAfile> and/or -p <CApath> options"));
        // FreeBSD checks -r without -l/-p only in the client (the server just ignores such a CRL)
        assertTrue(failsToStart(Role.CLIENT, "-r", pki.crl.toString()).contains("-r requires the -l <CAfile> and/or -p <CApath> options"));
        String unknown = failsToStart(Role.CLIENT, "-Z");
        assertTrue(unknown.contains("illegal option -- Z") || unknown.contains("invalid option -- Z"), unknown);
        assertTrue(unknown.contains("usage: rpc.tlsclntd"), unknown);
        assertTrue(failsToStart(Role.SERVER, "-N", "notanumber").contains("rpc.tlsservd: "));
    }

    @Test
    void worldReadablePrivateKeyIsReportedAndTheDaemonStillStarts() throws Exception {
        Path open = copyOfServerDir("startup-key0644", "rw-r--r--");
        try (var s = Flows.start(1, Role.SERVER, "--no-ktls-check", "-D", open.toString())) {
            String line = s.daemon().awaitLine("is readable by all users");
            assertTrue(line.contains("private key " + open.resolve("certkey.pem") + " is readable by all users (mode 0644)"), line);
        }
        Path closed = copyOfServerDir("startup-key0640", "rw-r-----");
        try (var s = Flows.start(1, Role.SERVER, "--no-ktls-check", "-D", closed.toString())) {
            assertFalse(s.daemon().hasLine("is readable by all users"), s.daemon().log());
        }
    }
}
