package org.rpctls.upcall;

import java.util.concurrent.atomic.LongAdder;

/** Process-wide counts of CONNECT handshakes, for the daemon's stats line. */
public final class HandshakeCounts {
    private HandshakeCounts() {}

    private static final LongAdder OK = new LongAdder();
    private static final LongAdder FAILED = new LongAdder();

    /** A TLS handshake completed (whether or not the daemon then accepted the peer). */
    static void ok() {
        OK.increment();
    }

    /** A TLS handshake failed (timeout, protocol error, peer went away, rejected certificate). */
    static void failed() {
        FAILED.increment();
    }

    public static long okCount() {
        return OK.sum();
    }

    public static long failedCount() {
        return FAILED.sum();
    }
}
