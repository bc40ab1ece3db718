package org.rpctls.ffi;

import java.lang.foreign.MemorySegment;

/** Reading C strings returned by native code (which FFM hands back as zero-length segments). */
public final class CStrings {
    private CStrings() {}

    /** The NUL-terminated string at {@code p}, or null for NULL. */
    public static String read(MemorySegment p) {
        if (p == null || p.equals(MemorySegment.NULL)) return null;
        return p.reinterpret(Long.MAX_VALUE).getString(0);
    }

    /** {@code len} bytes at {@code p} as ISO-8859-1 text (byte-exact, for protocol strings). */
    public static byte[] bytes(MemorySegment p, long len) {
        if (p == null || p.equals(MemorySegment.NULL) || len <= 0) return new byte[0];
        return p.reinterpret(len).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }
}
