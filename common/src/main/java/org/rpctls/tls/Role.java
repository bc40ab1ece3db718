package org.rpctls.tls;

/** Which end of the TLS handshake a daemon plays: rpc.tlsclntd is the client, rpc.tlsservd the server. */
public enum Role {
    CLIENT,
    SERVER
}
