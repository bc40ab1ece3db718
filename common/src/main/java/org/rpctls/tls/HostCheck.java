package org.rpctls.tls;

import org.rpctls.ffi.LibCrypto;

/**
 * Which name the peer's certificate must match (X509_check_host), and how wildcards count.
 * FreeBSD's daemons check the reverse-DNS name of the peer address; Linux hands the name over
 * in the upcall.
 */
public sealed interface HostCheck {
    /** X509_check_host flags: FreeBSD's default allows no wildcards (-w one label, -W several). */
    int flags();

    /** No host check. */
    record None() implements HostCheck {
        @Override
        public int flags() {
            return 0;
        }
    }

    /** The name getnameinfo(NI_NAMEREQD) gives for the peer address; no name means no match. */
    record ReverseDns(int flags) implements HostCheck {}

    /** A name given by the caller (the kernel's peername on Linux). */
    record Name(String name, int flags) implements HostCheck {}

    HostCheck NONE = new None();

    int NO_WILDCARDS = LibCrypto.X509_CHECK_FLAG_NO_WILDCARDS;
    int SINGLE_LABEL_WILDCARDS = 0;
    int MULTI_LABEL_WILDCARDS = LibCrypto.X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS;
}
