package org.rpctls.rpc;

import java.io.IOException;
import java.util.Arrays;
import org.dcache.oncrpc4j.xdr.XdrDecodingStream;
import org.dcache.oncrpc4j.xdr.XdrEncodingStream;

/**
 * rpctlscd.x, version 2 (FreeBSD 15, netlink): the (sec, usec, ssl) triple became the kernel's
 * socket cookie. The field order of ConnectArg lives only here; it was checked against
 * sys/rpc/rpcsec_tls/rpctlscd.x of freebsd-src @5ecc60fb07d1 (socookie first, then certname).
 */
public final class RpctlscdV2 {
    private RpctlscdV2() {}

    /** struct rpctlscd_connect_arg { uint64_t socookie; char certname<>; } */
    public record ConnectArg(long socookie, byte[] certname) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            x.xdrEncodeLong(socookie);
            XdrArrays.encodeChars(x, certname);
        }

        public static ConnectArg decode(XdrDecodingStream x) throws IOException {
            long cookie = x.xdrDecodeLong();
            return new ConnectArg(cookie, XdrArrays.decodeChars(x));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ConnectArg c && socookie == c.socookie && Arrays.equals(certname, c.certname);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(socookie) * 31 + Arrays.hashCode(certname);
        }
    }

    /** struct rpctlscd_connect_res { uint32_t reterr; } */
    public record ConnectRes(int reterr) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            x.xdrEncodeInt(reterr);
        }

        public static ConnectRes decode(XdrDecodingStream x) throws IOException {
            return new ConnectRes(x.xdrDecodeInt());
        }
    }

    /** struct rpctlscd_handlerecord_arg { uint64_t socookie; } */
    public record HandlerecordArg(long socookie) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            x.xdrEncodeLong(socookie);
        }

        public static HandlerecordArg decode(XdrDecodingStream x) throws IOException {
            return new HandlerecordArg(x.xdrDecodeLong());
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

    /** struct rpctlscd_disconnect_arg { uint64_t socookie; } */
    public record DisconnectArg(long socookie) implements XdrRecord {
        public void xdrEncode(XdrEncodingStream x) {
            x.xdrEncodeLong(socookie);
        }

        public static DisconnectArg decode(XdrDecodingStream x) throws IOException {
            return new DisconnectArg(x.xdrDecodeLong());
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
