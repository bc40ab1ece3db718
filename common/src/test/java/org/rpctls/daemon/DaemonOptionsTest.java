package org.rpctls.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.rpctls.tls.HostCheck;
import org.rpctls.tls.Role;

class DaemonOptionsTest {
    static DaemonOptions server(String... args) throws UsageException {
        return DaemonOptions.parse(Role.SERVER, args, 4);
    }

    static DaemonOptions client(String... args) throws UsageException {
        return DaemonOptions.parse(Role.CLIENT, args, 4);
    }

    static String serverError(String... args) {
        var e = assertThrows(UsageException.class, () -> server(args));
        assertEquals(1, e.exitCode());
        return e.getMessage();
    }

    @Test
    void shortAndLongFormsAgree() throws Exception {
        var a = server("-2", "-m", "-l", "/ca.pem", "-h", "-w", "-u", "-n", "example.org", "-D", "/d", "-r", "/crl.pem", "-v", "-N", "2");
        var b = server("--allowtls1_2", "--mutualverf", "--verifylocs=/ca.pem", "--checkhost", "--singlewild", "--certuser",
                "--domain", "example.org", "--certdir=/d", "--crl", "/crl.pem", "--verbose", "--maxthreads=2");
        assertEquals(a, b);
        assertTrue(a.tls12() && a.mutual() && a.checkHost() && a.certUser() && a.verbose());
        assertEquals(HostCheck.SINGLE_LABEL_WILDCARDS, a.wildcardFlags());
        assertEquals(Path.of("/d"), a.certDir());
        assertEquals(2, a.maxThreads());
        assertEquals("example.org", a.tlsSettings().certUserDomain());
    }

    @Test
    void combinedShortOptionsAndAttachedArguments() throws Exception {
        var o = server("-dvm2", "-l/ca.pem", "-Cfoo:bar");
        assertEquals(1, o.debugLevel());
        assertTrue(o.verbose() && o.mutual() && o.tls12());
        assertEquals(Path.of("/ca.pem"), o.caFile());
        assertEquals("foo:bar", o.ciphers());
        assertEquals(2, server("-d", "-d").debugLevel());
    }

    @Test
    void freeBsdValidationMessages() {
        assertEquals("rpc.tlsservd: -m requires the -l <CAfile> and/or -p <CApath> options", serverError("-m"));
        assertEquals("rpc.tlsservd: -h requires the -m plus the -l <CAfile> and/or -p <CApath> options", serverError("-h", "-l", "/ca"));
        assertEquals("rpc.tlsservd: The -w or -W options require the -h option", serverError("-w"));
        assertEquals("rpc.tlsservd: The -w or -W options require the -h option", serverError("-m", "-l", "/c", "-W"));
        assertEquals("rpc.tlsservd: -u requires the -m plus the -l <CAfile> and/or -p <CApath> options", serverError("-u", "-p", "/d"));
        assertEquals("rpc.tlsservd: options -w and -W are mutually exclusive", serverError("-w", "-W"));
        assertEquals("rpc.tlsservd: maximum threads must be between 1 and number of CPUs (4)", serverError("-N", "5"));
        assertEquals("rpc.tlsservd: maximum threads must be between 1 and number of CPUs (4)", serverError("-N", "zero"));
        var e = assertThrows(UsageException.class, () -> client("-r", "/crl.pem"));
        assertEquals("rpc.tlsclntd: -r requires the -l <CAfile> and/or -p <CApath> options", e.getMessage());
    }

    @Test
    void unknownOptionsPrintUsage() {
        String m = serverError("-x");
        assertTrue(m.startsWith("rpc.tlsservd: illegal option -- x\nusage: rpc.tlsservd [-2]"), m);
        // -h is a server option only
        var e = assertThrows(UsageException.class, () -> client("-h"));
        assertTrue(e.getMessage().startsWith("rpc.tlsclntd: illegal option -- h"));
        assertTrue(serverError("--bogus").startsWith("rpc.tlsservd: unrecognized option '--bogus'"));
        assertTrue(serverError("-D").startsWith("rpc.tlsservd: option requires an argument -- D"));
        assertTrue(serverError("--certdir").startsWith("rpc.tlsservd: option '--certdir' requires an argument"));
        assertTrue(serverError("--verbose=yes").startsWith("rpc.tlsservd: option '--verbose' doesn't allow an argument"));
        assertTrue(serverError("stray").startsWith("rpc.tlsservd: unexpected argument stray"));
    }

    @Test
    void extraLongOptions() throws Exception {
        var o = client("--pidfile=/run/x.pid", "--upcall", "netlink", "--emulated-kernel=/tmp/k", "--probe=h:1");
        assertEquals(Path.of("/run/x.pid"), o.pidFile());
        assertEquals("netlink", o.upcall());
        assertEquals(Path.of("/tmp/k"), o.emulatedKernel());
        assertEquals("h:1", o.probe());
        var e = assertThrows(UsageException.class, () -> client("--upcall=udp"));
        assertEquals("rpc.tlsclntd: --upcall must be local, netlink or handshake, not \"udp\"", e.getMessage());
        assertEquals(Path.of("/run/rpctls"), client().handoffDir());
        assertEquals(Path.of("/tmp/h"), client("--handoff-dir=/tmp/h").handoffDir());
        assertEquals(15, client().handshakeTimeout());
        assertEquals(4, client("--handshake-timeout", "4").handshakeTimeout());
        assertEquals("rpc.tlsclntd: --handshake-timeout must be 1..15 seconds (the kernel waits 15)",
                assertThrows(UsageException.class, () -> client("--handshake-timeout=16")).getMessage());
        assertEquals("rpc.tlsclntd: --no-ktls-check is only allowed with --emulated-kernel",
                assertThrows(UsageException.class, () -> client("--no-ktls-check")).getMessage());
        assertTrue(client("--no-ktls-check", "--emulated-kernel=/tmp/k").noKtlsCheck());
        assertFalse(server().serialHandshakes());
        assertTrue(server("--serial-handshakes").serialHandshakes());
        assertTrue(client("--serial-handshakes").serialHandshakes());
        assertEquals("rpc.tlsservd: option '--serial-handshakes' doesn't allow an argument",
                assertThrows(UsageException.class, () -> server("--serial-handshakes=1")).getMessage().lines().findFirst().orElseThrow());
    }

    @Test
    void linuxSettingsAlwaysVerifyAndAskForClientCertificates() throws Exception {
        var c = client("-m").linuxTlsSettings(true);
        assertTrue(c.systemTrust(), "no -l/-p: the system trust store");
        assertTrue(c.loadOwnCert());
        assertFalse(client("-m").linuxTlsSettings(false).loadOwnCert(), "anon mounts present no certificate");
        assertFalse(client("-l", "/ca.pem").linuxTlsSettings(false).systemTrust());
        var s = server().linuxTlsSettings(true);
        assertTrue(s.requestPeerCert() && s.rejectBadPeerCert());
    }

    @Test
    void rolesMapToEngineSettings() throws Exception {
        var c = client("-m", "-l", "/ca.pem");
        assertTrue(c.tlsSettings().loadOwnCert());
        assertEquals(Path.of("/etc/rpc.tlsclntd"), c.tlsSettings().certDir());
        assertTrue(c.hostCheck() instanceof HostCheck.ReverseDns r && r.flags() == HostCheck.NO_WILDCARDS);
        assertEquals(HostCheck.NONE, client().hostCheck());
        var s = server();
        assertTrue(s.tlsSettings().loadOwnCert());
        assertFalse(s.tlsSettings().requestPeerCert());
        assertEquals(HostCheck.NONE, s.hostCheck());
        assertTrue(server("-m", "-l", "/c", "-h", "-W").hostCheck() instanceof HostCheck.ReverseDns r && r.flags() == HostCheck.MULTI_LABEL_WILDCARDS);
    }
}
