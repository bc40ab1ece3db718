package org.rpctls.tls;

import java.util.Optional;
import org.rpctls.ffi.LibCrypto;
import org.rpctls.sys.Users;

/**
 * The verdict on the peer's certificate, gathered as FreeBSD's daemons gather it (§2.2, §2.3).
 *
 * @param gotCert       the peer presented a certificate
 * @param subject       its subject (X509_NAME_oneline), or null
 * @param issuer        its issuer, or null
 * @param verifyResult  SSL_get_verify_result (X509_V_OK = 0); meaningful only when verification was configured
 * @param verifyError   X509_verify_cert_error_string of verifyResult
 * @param hostName      the name the certificate was checked against (empty: no check, or no name)
 * @param hostMatches   X509_check_host's answer; false when a check was asked for but no name was found
 * @param hostChecked   whether a host check was asked for
 * @param certUser      the -u mapping's identity, if it succeeded
 * @param certUserNote  why the -u mapping did not succeed (null if it did or was not asked)
 */
public record PeerCheck(
        boolean gotCert,
        String subject,
        String issuer,
        long verifyResult,
        String verifyError,
        Optional<String> hostName,
        boolean hostChecked,
        boolean hostMatches,
        Optional<Users.Identity> certUser,
        String certUserNote) {

    public boolean verified() {
        return gotCert && verifyResult == LibCrypto.X509_V_OK;
    }

    /** FreeBSD's RPCTLS_FLAGS_SELFSIGNED test. */
    public boolean selfSigned() {
        return verifyResult == LibCrypto.X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
                || verifyResult == LibCrypto.X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN;
    }

    static PeerCheck none() {
        return new PeerCheck(false, null, null, LibCrypto.X509_V_OK, "ok", Optional.empty(), false, false, Optional.empty(), null);
    }
}
