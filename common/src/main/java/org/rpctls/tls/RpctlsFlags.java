package org.rpctls.tls;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * FreeBSD's verdicts on a finished handshake (rpcsec_tls.h flags; freebsd-rpctls.md §2.2,
 * §2.3), computed in FreeBSD's order, with the reasons the daemons log.
 */
public final class RpctlsFlags {
    private RpctlsFlags() {}

    public static final int HANDSHAKE = 0x01;
    public static final int GOTCERT = 0x02;
    public static final int SELFSIGNED = 0x04;
    public static final int VERIFIED = 0x08;
    public static final int DISABLED = 0x10;
    public static final int CERTUSER = 0x20;
    public static final int HANDSHFAIL = 0x40;

    /**
     * The server's CONNECT flags: HANDSHAKE; with -m and a certificate GOTCERT, then
     * SELFSIGNED if verification failed for that reason, or, when it verified, DISABLED for a
     * failed -h host check, CERTUSER for a -u mapping, and VERIFIED; finally DISABLED if
     * kernel TLS is not active in both directions.
     *
     * @param requireKtls false only where no kernel TLS can exist and the caller says so
     */
    public static int server(TlsSession session, boolean mutual, boolean requireKtls) {
        int flags = HANDSHAKE;
        PeerCheck p = session.peer();
        if (mutual && p.gotCert()) {
            flags |= GOTCERT;
            if (!p.verified()) {
                if (p.selfSigned()) flags |= SELFSIGNED;
            } else {
                if (p.hostChecked() && !p.hostMatches()) flags |= DISABLED;
                if (p.certUser().isPresent()) flags |= CERTUSER;
                flags |= VERIFIED;
            }
        }
        if (requireKtls && !session.info().ktlsBoth()) flags |= DISABLED;
        return flags;
    }

    /**
     * Why FreeBSD's client would refuse this handshake, or empty if it accepts it: a server
     * certificate is always required; with -l/-p it must verify and match the host name; kernel
     * TLS must be active both ways.
     */
    public static Optional<String> clientRefusal(TlsSession session, boolean verifyConfigured, boolean requireKtls) {
        PeerCheck p = session.peer();
        if (!p.gotCert()) return Optional.of("server presented no certificate");
        if (verifyConfigured) {
            if (!p.verified()) return Optional.of("verify failed: " + p.verifyError());
            if (p.hostChecked() && !p.hostMatches()) {
                return Optional.of("verify failed: " + (p.hostName().isPresent()
                        ? "hostname mismatch (" + p.hostName().get() + ")" : "no host name for the server address"));
            }
        }
        if (requireKtls && !session.info().ktlsBoth()) return Optional.of("ktls not working");
        return Optional.empty();
    }

    /** "HANDSHAKE|GOTCERT|VERIFIED" style text for logs. */
    public static String describe(int flags) {
        List<String> names = new ArrayList<>();
        String[] all = {"HANDSHAKE", "GOTCERT", "SELFSIGNED", "VERIFIED", "DISABLED", "CERTUSER", "HANDSHFAIL"};
        for (int i = 0; i < all.length; i++) if ((flags & (1 << i)) != 0) names.add(all[i]);
        return names.isEmpty() ? "0" : String.join("|", names);
    }
}
