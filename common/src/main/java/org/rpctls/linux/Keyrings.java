package org.rpctls.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.SystemCallException;

/** Reading keys from the Linux kernel keyring by serial (keyctl KEYCTL_READ), for cert_serial= / privkey_serial=. */
public final class Keyrings {
    private Keyrings() {}

    static final int KEYCTL_READ = 11;
    /** SYS_keyctl: 250 on x86_64, 219 on aarch64. */
    static final long SYS_KEYCTL = "aarch64".equals(System.getProperty("os.arch")) ? 219 : 250;

    /** The payload of key {@code serial}. */
    public static byte[] read(int serial) throws SystemCallException {
        try (Arena arena = Arena.ofConfined()) {
            long size = LibC.keyctl(SYS_KEYCTL, KEYCTL_READ, serial, MemorySegment.NULL, 0);
            if (size < 0) throw SystemCallException.lastError("keyctl(KEYCTL_READ, " + Integer.toUnsignedString(serial) + ")");
            if (size > 1 << 20) throw new SystemCallException("keyctl(KEYCTL_READ): key of " + size + " bytes", LibC.EMSGSIZE);
            MemorySegment buf = arena.allocate(Math.max(1, size));
            long n = LibC.keyctl(SYS_KEYCTL, KEYCTL_READ, serial, buf, size);
            if (n < 0) throw SystemCallException.lastError("keyctl(KEYCTL_READ, " + Integer.toUnsignedString(serial) + ")");
            byte[] out = buf.asSlice(0, Math.min(n, size)).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            buf.fill((byte) 0);
            return out;
        }
    }
}
