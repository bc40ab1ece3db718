package org.rpctls.rpc;

import java.io.IOException;
import org.dcache.oncrpc4j.xdr.XdrDecodingStream;
import org.dcache.oncrpc4j.xdr.XdrEncodingStream;

/**
 * The two variable-length arrays of the upcall programs, with rpcgen's encodings.
 *
 * <p>{@code char certname<>} is neither string nor opaque: rpcgen makes it
 * xdr_array(xdr_char), and xdr_char puts each (signed) char in a full 4-byte XDR int. So the
 * wire has a count and then one int per character.
 */
public final class XdrArrays {
    private XdrArrays() {}

    /** Longest certname accepted; the kernel's mount option is far shorter. Longer is GARBAGE_ARGS. */
    public static final int MAX_CHARS = 1024;
    /** Most gids a reply carries (FreeBSD's NGROUPS_MAX + 1). */
    public static final int MAX_GIDS = 1024;

    /** Arguments that decode but break the protocol's limits; the caller answers GARBAGE_ARGS. */
    public static final class MalformedXdrException extends IOException {
        public MalformedXdrException(String message) {
            super(message);
        }
    }

    public static void encodeChars(XdrEncodingStream xdr, byte[] chars) {
        xdr.xdrEncodeInt(chars.length);
        for (byte b : chars) xdr.xdrEncodeInt(b); // sign-extended, as xdr_char does with a signed char
    }

    public static byte[] decodeChars(XdrDecodingStream xdr) throws IOException {
        int n = xdr.xdrDecodeInt();
        if (n < 0 || n > MAX_CHARS) throw new MalformedXdrException("char array of " + Integer.toUnsignedString(n) + " elements");
        byte[] out = new byte[n];
        for (int i = 0; i < n; i++) {
            int v = xdr.xdrDecodeInt();
            if (v < -128 || v > 255) throw new MalformedXdrException("char value " + v + " out of range");
            out[i] = (byte) v;
        }
        return out;
    }

    public static void encodeUints(XdrEncodingStream xdr, int[] values) {
        xdr.xdrEncodeInt(values.length);
        for (int v : values) xdr.xdrEncodeInt(v);
    }

    public static int[] decodeUints(XdrDecodingStream xdr) throws IOException {
        int n = xdr.xdrDecodeInt();
        if (n < 0 || n > MAX_GIDS) throw new MalformedXdrException("uint32 array of " + Integer.toUnsignedString(n) + " elements");
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = xdr.xdrDecodeInt();
        return out;
    }
}
