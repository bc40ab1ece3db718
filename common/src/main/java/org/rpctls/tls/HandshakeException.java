package org.rpctls.tls;

/** A TLS handshake did not complete; {@link #reason()} classifies why, the message explains it. */
public class HandshakeException extends Exception {
    public enum Reason {
        /** The deadline passed (peer silent or too slow). */
        TIMEOUT,
        /** The peer closed or reset the connection. */
        PEER_CLOSED,
        /** TLS protocol failure: an alert, garbage bytes, no shared version or cipher. */
        PROTOCOL,
        /** The peer's certificate failed verification (see {@link #verifyResult()}). */
        VERIFY,
        /** A socket call failed. */
        IO,
        /** Local configuration: a bad per-connection certificate name or file. */
        CONFIG,
        /** The handshake completed but the result is refused by policy (e.g. kTLS inactive). */
        POLICY
    }

    private final Reason reason;
    private final long verifyResult;

    public HandshakeException(Reason reason, String message) {
        this(reason, message, 0);
    }

    public HandshakeException(Reason reason, String message, long verifyResult) {
        super(message);
        this.reason = reason;
        this.verifyResult = verifyResult;
    }

    public Reason reason() {
        return reason;
    }

    /** SSL_get_verify_result when the failure was a certificate verification, else 0. */
    public long verifyResult() {
        return verifyResult;
    }
}
