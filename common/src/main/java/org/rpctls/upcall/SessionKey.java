package org.rpctls.upcall;

/** How the kernel names a daemon's TLS session in HANDLERECORD and DISCONNECT. */
public sealed interface SessionKey {
    /** Version 1 (FreeBSD 13/14): the daemon's start time and a reference number it handed out. */
    record Triple(long sec, long usec, long refno) implements SessionKey {
        @Override
        public String toString() {
            return "refno " + Long.toUnsignedString(refno);
        }
    }

    /** Version 2 (FreeBSD 15): the kernel's socket pointer. */
    record Cookie(long socookie) implements SessionKey {
        @Override
        public String toString() {
            return "socookie 0x" + Long.toHexString(socookie);
        }
    }
}
