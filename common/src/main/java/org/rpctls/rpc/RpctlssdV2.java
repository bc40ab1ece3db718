package org.rpctls.rpc;

import java.io.IOException;
import java.util.Arrays;
import org.dcache.oncrpc4j.xdr.XdrDecodingStream;
import org.dcache.oncrpc4j.xdr.XdrEncodingStream;

/** rpctlssd.x, version 2 (FreeBSD 15, netlink): CONNECT gained the socket cookie, its result lost sec/usec/ssl. */
public final class RpctlssdV2 {
    private RpctlssdV2() {}

    /** struct rpctlssd_connect_arg { uint64_t socookie; } */
    public record ConnectArg(long socookie) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            x.xdrEncodeLong(socookie);
        }

        public static ConnectArg decode(XdrDecodingStream x) throws IOException {
            return new ConnectArg(x.xdrDecodeLong());
        }
    }

    /** struct rpctlssd_connect_res { uint32_t flags; uint32_t uid; uint32_t gid<>; } */
    public record ConnectRes(int flags, int uid, int[] gid) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            x.xdrEncodeInt(flags);
            x.xdrEncodeInt(uid);
            XdrArrays.encodeUints(x, gid);
        }

        public static ConnectRes decode(XdrDecodingStream x) throws IOException {
            return new ConnectRes(x.xdrDecodeInt(), x.xdrDecodeInt(), XdrArrays.decodeUints(x));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ConnectRes r && flags == r.flags && uid == r.uid && Arrays.equals(gid, r.gid);
        }

        @Override
        public int hashCode() {
            return flags * 31 + Arrays.hashCode(gid);
        }
    }

    /** struct rpctlssd_handlerecord_arg { uint64_t socookie; } */
    public record HandlerecordArg(long socookie) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            x.xdrEncodeLong(socookie);
        }

        public static HandlerecordArg decode(XdrDecodingStream x) throws IOException {
            return new HandlerecordArg(x.xdrDecodeLong());
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

    /** struct rpctlssd_disconnect_arg { uint64_t socookie; } */
    public record DisconnectArg(long socookie) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            x.xdrEncodeLong(socookie);
        }

        public static DisconnectArg decode(XdrDecodingStream x) throws IOException {
            return new DisconnectArg(x.xdrDecodeLong());
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
