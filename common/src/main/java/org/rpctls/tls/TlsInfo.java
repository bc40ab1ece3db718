package org.rpctls.tls;

/**
 * What was negotiated, read right after the handshake.
 *
 * @param protocol   "TLSv1.3" / "TLSv1.2"
 * @param cipher     the cipher suite name
 * @param alpn       the ALPN protocol agreed, or null (FreeBSD and Linux peers send none)
 * @param ktlsSend   BIO_get_ktls_send: the kernel encrypts what is sent on the socket
 * @param ktlsRecv   BIO_get_ktls_recv: the kernel decrypts what arrives (or we installed it)
 * @param ktlsError  why the receive side could not be installed by hand (TLS 1.3 on Linux), or null
 */
public record TlsInfo(String protocol, String cipher, String alpn, boolean ktlsSend, boolean ktlsRecv, String ktlsError) {
    public TlsInfo(String protocol, String cipher, String alpn, boolean ktlsSend, boolean ktlsRecv) {
        this(protocol, cipher, alpn, ktlsSend, ktlsRecv, null);
    }

    TlsInfo withKtlsRecv(boolean on, String error) {
        return new TlsInfo(protocol, cipher, alpn, ktlsSend, on, error);
    }

    public boolean ktlsBoth() {
        return ktlsSend && ktlsRecv;
    }

    public String ktlsText() {
        if (ktlsBoth()) return "kTLS send+receive";
        if (ktlsSend) return "kTLS send only";
        if (ktlsRecv) return "kTLS receive only";
        return "kTLS not active";
    }

    /** {@link #ktlsText()} with the reason the receive side is missing, when there is one. */
    public String ktlsDetail() {
        return ktlsError == null ? ktlsText() : ktlsText() + " (" + ktlsError + ")";
    }
}
