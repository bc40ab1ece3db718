package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rpctls.ffi.LibCrypto;
import org.rpctls.sys.Users;
import org.rpctls.tls.HandshakeException;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.HostCheck;
import org.rpctls.tls.RpctlsFlags;
import org.rpctls.tls.TlsContext;
import org.rpctls.tls.TlsSession;
import org.rpctls.tls.TlsSettings;

/**
 * Every verification outcome of FreeBSD §2.2 (client) and §2.3 (server), with certificates
 * made at test time: valid chain, unknown CA, self-signed, expired, revoked by CRL, host name
 * mismatch, wildcards, and the -u otherName user mapping.
 */
class VerificationTest {
    static TestPki pki;
    static Loopback loop;
    static final Handshaker.Request REQ = Handshaker.Request.defaults().withTimeout(Duration.ofSeconds(10));
    static final HostCheck RDNS = new HostCheck.ReverseDns(HostCheck.NO_WILDCARDS);

    @BeforeAll
    static void setUp() throws Exception {
        pki = TestPki.get();
        loop = new Loopback();
    }

    @AfterAll
    static void tearDown() {
        loop.close();
    }

    // ---- server side: rpc.tlsservd -m -l CA [-h] [-u]: the flags say what the client certificate was ----

    /** Server flags for a client presenting CA's certificate NAME (no kTLS requirement: this host has none). */
    private TlsSession serverSees(TlsSettings serverSettings, HostCheck serverCheck, Pki ca, String name, Loopback.Outcome[] keep) throws Exception {
        Path clientDir = pki.certDir(ca, name);
        var server = TlsContext.create(serverSettings);
        var client = TlsContext.create(TlsSettings.defaults(org.rpctls.tls.Role.CLIENT).withCertDir(clientDir).withOwnCert(true));
        var out = loop.handshake(server, REQ.withHostCheck(serverCheck), client, REQ);
        server.close();
        client.close();
        keep[0] = out;
        out.client().get();
        return out.server().get();
    }

    private int serverFlags(TlsSettings settings, HostCheck check, Pki ca, String name) throws Exception {
        var keep = new Loopback.Outcome[1];
        try {
            TlsSession s = serverSees(settings, check, ca, name, keep);
            return RpctlsFlags.server(s, true, false);
        } finally {
            if (keep[0] != null) keep[0].close();
        }
    }

    @Test
    void serverValidClientChain() throws Exception {
        assertEquals(RpctlsFlags.HANDSHAKE | RpctlsFlags.GOTCERT | RpctlsFlags.VERIFIED,
                serverFlags(pki.mutualServer(), HostCheck.NONE, pki.main, "client"));
    }

    @Test
    void serverClientFromUnknownCa() throws Exception {
        var keep = new Loopback.Outcome[1];
        try {
            TlsSession s = serverSees(pki.mutualServer(), HostCheck.NONE, pki.rogue, "client", keep);
            // the client sends its leaf only, so the server cannot find the (unknown) issuer
            assertEquals(LibCrypto.X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, s.peer().verifyResult());
            assertEquals("unable to verify the first certificate", s.peer().verifyError());
            assertEquals(RpctlsFlags.HANDSHAKE | RpctlsFlags.GOTCERT, RpctlsFlags.server(s, true, false));
        } finally {
            keep[0].close();
        }
    }

    @Test
    void serverSelfSignedClient() throws Exception {
        assertEquals(RpctlsFlags.HANDSHAKE | RpctlsFlags.GOTCERT | RpctlsFlags.SELFSIGNED,
                serverFlags(pki.mutualServer(), HostCheck.NONE, pki.self, "client"));
    }

    @Test
    void serverExpiredClient() throws Exception {
        var keep = new Loopback.Outcome[1];
        try {
            TlsSession s = serverSees(pki.mutualServer(), HostCheck.NONE, pki.main, "clientold", keep);
            assertEquals(LibCrypto.X509_V_ERR_CERT_HAS_EXPIRED, s.peer().verifyResult());
            assertEquals("certificate has expired", s.peer().verifyError());
            assertEquals(RpctlsFlags.HANDSHAKE | RpctlsFlags.GOTCERT, RpctlsFlags.server(s, true, false));
        } finally {
            keep[0].close();
        }
    }

    @Test
    void serverRevokedClientWithCrl() throws Exception {
        var keep = new Loopback.Outcome[1];
        try {
            TlsSession s = serverSees(pki.mutualServer().withCrl(pki.crl), HostCheck.NONE, pki.main, "clientrevoked", keep);
            assertEquals(LibCrypto.X509_V_ERR_CERT_REVOKED, s.peer().verifyResult());
            assertEquals(RpctlsFlags.HANDSHAKE | RpctlsFlags.GOTCERT, RpctlsFlags.server(s, true, false));
        } finally {
            keep[0].close();
        }
        // the same CRL does not touch a good certificate
        assertEquals(RpctlsFlags.HANDSHAKE | RpctlsFlags.GOTCERT | RpctlsFlags.VERIFIED,
                serverFlags(pki.mutualServer().withCrl(pki.crl), HostCheck.NONE, pki.main, "client"));
    }

    @Test
    void serverWithoutClientCertificate() throws Exception {
        try (var server = TlsContext.create(pki.mutualServer());
             var client = TlsContext.create(pki.client());
             var out = loop.handshake(server, REQ, client, REQ)) {
            assertEquals(RpctlsFlags.HANDSHAKE, RpctlsFlags.server(out.server().get(), true, false));
        }
    }

    @Test
    void serverHostCheckByReverseDns() throws Exception {
        // -h: the client is 127.0.0.1, whose reverse name is localhost
        assertEquals(RpctlsFlags.HANDSHAKE | RpctlsFlags.GOTCERT | RpctlsFlags.VERIFIED,
                serverFlags(pki.mutualServer(), RDNS, pki.main, "client"));
        assertEquals(RpctlsFlags.HANDSHAKE | RpctlsFlags.GOTCERT | RpctlsFlags.VERIFIED | RpctlsFlags.DISABLED,
                serverFlags(pki.mutualServer(), RDNS, pki.main, "clientfar"));
    }

    @Test
    void wildcardsFollowDashWAndDashCapitalW() throws Exception {
        // The certificate says *.example.com; the names are given directly (as Linux's peername is).
        record Case(String name, int flags, boolean matches) {}
        var cases = new Case[] {
            new Case("host.example.com", HostCheck.NO_WILDCARDS, false),          // default: no wildcards
            new Case("host.example.com", HostCheck.SINGLE_LABEL_WILDCARDS, true), // -w
            new Case("a.b.example.com", HostCheck.SINGLE_LABEL_WILDCARDS, false), // -w: one label only
            new Case("a.b.example.com", HostCheck.MULTI_LABEL_WILDCARDS, true),   // -W
            new Case("example.com", HostCheck.MULTI_LABEL_WILDCARDS, false),
            new Case("host.example.org", HostCheck.MULTI_LABEL_WILDCARDS, false),
        };
        for (Case c : cases) {
            var keep = new Loopback.Outcome[1];
            try {
                TlsSession s = serverSees(pki.mutualServer(), new HostCheck.Name(c.name(), c.flags()), pki.main, "wild", keep);
                assertTrue(s.peer().verified(), s.peer().verifyError());
                assertEquals(c.matches(), s.peer().hostMatches(), c + " checked " + s.peer().hostName());
                assertEquals(c.matches() ? 0 : RpctlsFlags.DISABLED, RpctlsFlags.server(s, true, false) & RpctlsFlags.DISABLED, c.toString());
            } finally {
                keep[0].close();
            }
        }
    }

    @Test
    void certUserMapping() throws Exception {
        TlsSettings dashU = pki.mutualServer().withCertUserDomain(TestPki.USER_DOMAIN);
        Users.Identity daemon = Users.lookup("daemon").orElseThrow();
        var keep = new Loopback.Outcome[1];
        try {
            TlsSession s = serverSees(dashU, HostCheck.NONE, pki.main, "client", keep);
            assertEquals(daemon.uid(), s.peer().certUser().orElseThrow().uid());
            assertEquals(daemon.gids()[0], s.peer().certUser().orElseThrow().gids()[0]);
            assertEquals(RpctlsFlags.HANDSHAKE | RpctlsFlags.GOTCERT | RpctlsFlags.VERIFIED | RpctlsFlags.CERTUSER,
                    RpctlsFlags.server(s, true, false));
        } finally {
            keep[0].close();
        }
        // wrong domain and unknown user: verified, but no CERTUSER
        for (String name : new String[] {"userwrongdomain", "userunknown"}) {
            try {
                TlsSession s = serverSees(dashU, HostCheck.NONE, pki.main, name, keep);
                assertTrue(s.peer().certUser().isEmpty(), name);
                assertEquals(RpctlsFlags.HANDSHAKE | RpctlsFlags.GOTCERT | RpctlsFlags.VERIFIED, RpctlsFlags.server(s, true, false), name);
                assertTrue(s.peer().certUserNote().contains(name.equals("userunknown") ? "nosuchuser unknown" : "@" + TestPki.USER_DOMAIN),
                        s.peer().certUserNote());
            } finally {
                keep[0].close();
            }
        }
        // a certificate that does not verify is never mapped, even with a matching otherName
        try {
            TlsSession s = serverSees(dashU.withCa(pki.rogue.caCert, null), HostCheck.NONE, pki.main, "client", keep);
            assertFalse(s.peer().verified());
            assertTrue(s.peer().certUser().isEmpty());
        } finally {
            keep[0].close();
        }
    }

    // ---- client side: rpc.tlsclntd -l CA: the handshake fails unless the server verifies and matches ----

    private Loopback.Outcome clientAgainst(Pki ca, String serverName, TlsSettings clientSettings) throws Exception {
        try (var server = TlsContext.create(TlsSettings.defaults(org.rpctls.tls.Role.SERVER).withCertDir(pki.certDir(ca, serverName)));
             var client = TlsContext.create(clientSettings)) {
            return loop.handshake(server, REQ, client, REQ.withHostCheck(RDNS));
        }
    }

    private void assertClientVerifyFails(Pki ca, String server, TlsSettings settings, long code) throws Exception {
        try (var out = clientAgainst(ca, server, settings)) {
            var e = (HandshakeException) out.client().failure();
            assertEquals(HandshakeException.Reason.VERIFY, e.reason(), String.valueOf(e));
            assertEquals(code, e.verifyResult());
            assertTrue(e.getMessage().contains(LibCrypto.X509_verify_cert_error_string(code)), e.getMessage());
            // the client told the server why with an alert
            assertTrue(out.server().failure().getMessage().contains("alert"), out.server().failure().getMessage());
        }
    }

    @Test
    void clientValidServer() throws Exception {
        try (var out = clientAgainst(pki.main, "server", pki.client())) {
            assertTrue(RpctlsFlags.clientRefusal(out.client().get(), true, false).isEmpty());
        }
    }

    @Test
    void clientRejectsUnknownCa() throws Exception {
        assertClientVerifyFails(pki.rogue, "server", pki.client(), LibCrypto.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    }

    @Test
    void clientRejectsSelfSigned() throws Exception {
        assertClientVerifyFails(pki.self, "server", pki.client(), LibCrypto.X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    }

    @Test
    void clientRejectsExpired() throws Exception {
        assertClientVerifyFails(pki.main, "serverold", pki.client(), LibCrypto.X509_V_ERR_CERT_HAS_EXPIRED);
    }

    @Test
    void clientRejectsRevokedWithCrl() throws Exception {
        assertClientVerifyFails(pki.main, "serverrevoked", pki.client().withCrl(pki.crl), LibCrypto.X509_V_ERR_CERT_REVOKED);
        try (var out = clientAgainst(pki.main, "serverrevoked", pki.client())) {
            out.client().get(); // without -r the same certificate passes
        }
    }

    @Test
    void clientRefusesHostNameMismatch() throws Exception {
        try (var out = clientAgainst(pki.main, "serverfar", pki.client())) {
            var c = out.client().get();
            assertTrue(c.peer().verified());
            assertFalse(c.peer().hostMatches());
            assertEquals("verify failed: hostname mismatch (localhost)", RpctlsFlags.clientRefusal(c, true, false).orElseThrow());
        }
    }

    @Test
    void clientWithoutCaAcceptsAnyServerCertificateButRequiresOne() throws Exception {
        TlsSettings noCa = TlsSettings.defaults(org.rpctls.tls.Role.CLIENT).withCertDir(pki.clientDir);
        try (var out = clientAgainst(pki.rogue, "server", noCa)) {
            var c = out.client().get();
            assertTrue(c.peer().gotCert());
            assertTrue(RpctlsFlags.clientRefusal(c, false, false).isEmpty());
        }
    }
}
