package org.rpctls.tls;

/** The TLS configuration (certificate, key, CA, CRL, ciphers) cannot be used; the message says which file and why. */
public class TlsConfigException extends Exception {
    public TlsConfigException(String message) {
        super(message);
    }
}
