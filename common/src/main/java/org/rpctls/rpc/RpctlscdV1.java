package org.rpctls.rpc;

import java.io.IOException;
import java.util.Arrays;
import org.dcache.oncrpc4j.xdr.XdrDecodingStream;
import org.dcache.oncrpc4j.xdr.XdrEncodingStream;

/** rpctlscd.x, version 1 (FreeBSD 13/14): program RPCTLSCD, one record per struct. */
public final class RpctlscdV1 {
    private RpctlscdV1() {}

    /** struct rpctlscd_connect_arg { char certname<>; } */
    public record ConnectArg(byte[] certname) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            XdrArrays.encodeChars(x, certname);
        }

        public static ConnectArg decode(XdrDecodingStream x) throws IOException {
            return new ConnectArg(XdrArrays.decodeChars(x));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ConnectArg c && Arrays.equals(certname, c.certname);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(certname);
        }
    }

    /** struct rpctlscd_connect_res { uint32_t reterr; uint64_t sec; uint64_t usec; uint64_t ssl; } */
    public record ConnectRes(int reterr, long sec, long usec, long ssl) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            x.xdrEncodeInt(reterr);
            x.xdrEncodeLong(sec);
            x.xdrEncodeLong(usec);
            x.xdrEncodeLong(ssl);
        }

        public static ConnectRes decode(XdrDecodingStream x) throws IOException {
            return new ConnectRes(x.xdrDecodeInt(), x.xdrDecodeLong(), x.xdrDecodeLong(), x.xdrDecodeLong());
        }
    }

    /** struct rpctlscd_handlerecord_arg { uint64_t sec; uint64_t usec; uint64_t ssl; } */
    public record HandlerecordArg(long sec, long usec, long ssl) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            x.xdrEncodeLong(sec);
            x.xdrEncodeLong(usec);
            x.xdrEncodeLong(ssl);
        }

        public static HandlerecordArg decode(XdrDecodingStream x) throws IOException {
            return new HandlerecordArg(x.xdrDecodeLong(), x.xdrDecodeLong(), x.xdrDecodeLong());
        }
    }

    /** struct rpctlscd_handlerecord_res { uint32_t reterr; } */
    public record HandlerecordRes(int reterr) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            x.xdrEncodeInt(reterr);
        }

        public static HandlerecordRes decode(XdrDecodingStream x) throws IOException {
            return new HandlerecordRes(x.xdrDecodeInt());
        }
    }

    /** struct rpctlscd_disconnect_arg { uint64_t sec; uint64_t usec; uint64_t ssl; } */
    public record DisconnectArg(long sec, long usec, long ssl) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            x.xdrEncodeLong(sec);
            x.xdrEncodeLong(usec);
            x.xdrEncodeLong(ssl);
        }

        public static DisconnectArg decode(XdrDecodingStream x) throws IOException {
            return new DisconnectArg(x.xdrDecodeLong(), x.xdrDecodeLong(), x.xdrDecodeLong());
        }
    }

    /** struct rpctlscd_disconnect_res { uint32_t reterr; } */
    public record DisconnectRes(int reterr) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            x.xdrEncodeInt(reterr);
        }

        public static DisconnectRes decode(XdrDecodingStream x) throws IOException {
            return new DisconnectRes(x.xdrDecodeInt());
        }
    }
}
