package org.rpctls.rpc;

import java.io.IOException;
import java.util.Arrays;
import org.dcache.oncrpc4j.xdr.XdrDecodingStream;
import org.dcache.oncrpc4j.xdr.XdrEncodingStream;

/** rpctlssd.x, version 1 (FreeBSD 13/14): program RPCTLSSD; CONNECT takes no argument. */
public final class RpctlssdV1 {
    private RpctlssdV1() {}

    /** struct rpctlssd_connect_res { uint32_t flags; uint64_t sec; uint64_t usec; uint64_t ssl; uint32_t uid; uint32_t gid<>; } */
    public record ConnectRes(int flags, long sec, long usec, long ssl, int uid, int[] gid) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            x.xdrEncodeInt(flags);
            x.xdrEncodeLong(sec);
            x.xdrEncodeLong(usec);
            x.xdrEncodeLong(ssl);
            x.xdrEncodeInt(uid);
            XdrArrays.encodeUints(x, gid);
        }

        public static ConnectRes decode(XdrDecodingStream x) throws IOException {
            return new ConnectRes(x.xdrDecodeInt(), x.xdrDecodeLong(), x.xdrDecodeLong(), x.xdrDecodeLong(), x.xdrDecodeInt(),
                    XdrArrays.decodeUints(x));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ConnectRes r && flags == r.flags && sec == r.sec && usec == r.usec && ssl == r.ssl && uid == r.uid
                    && Arrays.equals(gid, r.gid);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(gid) * 31 + Long.hashCode(ssl);
        }
    }

    /** struct rpctlssd_handlerecord_arg { uint64_t sec; uint64_t usec; uint64_t ssl; } */
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

    /** struct rpctlssd_handlerecord_res { uint32_t reterr; } */
    public record HandlerecordRes(int reterr) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            x.xdrEncodeInt(reterr);
        }

        public static HandlerecordRes decode(XdrDecodingStream x) throws IOException {
            return new HandlerecordRes(x.xdrDecodeInt());
        }
    }

    /** struct rpctlssd_disconnect_arg { uint64_t sec; uint64_t usec; uint64_t ssl; } */
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

    /** struct rpctlssd_disconnect_res { uint32_t reterr; } */
    public record DisconnectRes(int reterr) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            x.xdrEncodeInt(reterr);
        }

        public static DisconnectRes decode(XdrDecodingStream x) throws IOException {
            return new DisconnectRes(x.xdrDecodeInt());
        }
    }
}
