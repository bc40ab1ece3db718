package org.rpctls.sys;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;
import org.rpctls.ffi.LibC;

/**
 * struct sockaddr_in / sockaddr_in6 encoding. Linux starts with a 16-bit family; FreeBSD with
 * an 8-bit length and an 8-bit family. Port and address are in network order on both.
 */
public final class SockAddr {
    private SockAddr() {}

    private static final ValueLayout.OfShort PORT = JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN);

    public static final int SIZEOF_IN = 16;
    public static final int SIZEOF_IN6 = 28;

    /** Encodes {@code a} (which must be resolved) into a new segment from {@code arena}. */
    public static MemorySegment encode(Arena arena, InetSocketAddress a) {
        InetAddress ip = a.getAddress();
        if (ip == null) throw new IllegalArgumentException("unresolved address " + a);
        boolean v6 = ip instanceof Inet6Address;
        int size = v6 ? SIZEOF_IN6 : SIZEOF_IN;
        MemorySegment s = arena.allocate(size);
        putFamily(s, v6 ? LibC.AF_INET6 : LibC.AF_INET, size);
        s.set(PORT, 2, (short) a.getPort());
        byte[] raw = ip.getAddress();
        MemorySegment.copy(MemorySegment.ofArray(raw), 0, s, v6 ? 8 : 4, raw.length);
        if (v6) s.set(ValueLayout.JAVA_INT, 24, ((Inet6Address) ip).getScopeId());
        return s;
    }

    static void putFamily(MemorySegment s, int family, int size) {
        if (LibC.FREEBSD) {
            s.set(JAVA_BYTE, 0, (byte) size);
            s.set(JAVA_BYTE, 1, (byte) family);
        } else {
            s.set(JAVA_SHORT, 0, (short) family);
        }
    }

    public static int family(MemorySegment s) {
        return LibC.FREEBSD ? Byte.toUnsignedInt(s.get(JAVA_BYTE, 1)) : Short.toUnsignedInt(s.get(JAVA_SHORT, 0));
    }

    /** Decodes an AF_INET or AF_INET6 address; null for other families (AF_UNIX peers). */
    public static InetSocketAddress decode(MemorySegment s) {
        int family = family(s);
        int port = Short.toUnsignedInt(s.get(PORT, 2));
        try {
            if (family == LibC.AF_INET) {
                byte[] raw = s.asSlice(4, 4).toArray(JAVA_BYTE);
                return new InetSocketAddress(InetAddress.getByAddress(raw), port);
            }
            if (family == LibC.AF_INET6) {
                byte[] raw = s.asSlice(8, 16).toArray(JAVA_BYTE);
                int scope = s.get(ValueLayout.JAVA_INT, 24);
                // getByAddress turns a v4-mapped address into an Inet4Address, as logs want it.
                InetAddress ip = scope != 0 ? Inet6Address.getByAddress(null, raw, scope) : InetAddress.getByAddress(raw);
                return new InetSocketAddress(ip, port);
            }
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e); // cannot happen for raw addresses of the right length
        }
        return null;
    }
}
