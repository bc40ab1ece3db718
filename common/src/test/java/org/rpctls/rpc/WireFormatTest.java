package org.rpctls.rpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import org.dcache.oncrpc4j.xdr.Xdr;
import org.junit.jupiter.api.Test;

/** Hand-built bytes for every upcall struct of both generations: decoded, and re-encoded byte for byte. */
class WireFormatTest {
    static byte[] hex(String h) {
        return HexFormat.of().parseHex(h.replace(" ", ""));
    }

    static byte[] encode(XdrRecord r) throws IOException {
        Xdr x = new Xdr(1024);
        x.beginEncoding();
        r.xdrEncode(x);
        x.endEncoding();
        ByteBuffer b = RpcPrograms.bytes(x);
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    static <T> T decode(byte[] bytes, XdrReader.Decoder<T> d) throws IOException {
        Xdr x = new Xdr(bytes);
        x.beginDecoding();
        return d.decode(x);
    }

    static <T extends XdrRecord> T roundTrip(String wire, XdrReader.Decoder<T> d) throws IOException {
        byte[] bytes = hex(wire);
        T value = decode(bytes, d);
        assertArrayEquals(bytes, encode(value), "re-encoding " + value);
        return value;
    }

    @Test
    void certnameIsAnArrayOfXdrChars() throws IOException {
        // char certname<>: count, then one 4-byte int per character (rpcgen's xdr_char), not packed bytes
        var a = roundTrip("00000003 00000061 0000002d 00000062", RpctlscdV1.ConnectArg::decode);
        assertEquals("a-b", new String(a.certname()));
        // a byte >= 0x80 is a negative signed char, sign-extended
        var e = roundTrip("00000001 ffffffe9", RpctlscdV1.ConnectArg::decode);
        assertEquals((byte) 0xe9, e.certname()[0]);
        assertEquals(0, roundTrip("00000000", RpctlscdV1.ConnectArg::decode).certname().length);
    }

    @Test
    void version1Structs() throws IOException {
        var cres = roundTrip("00000000 0000000065f1a2b3 00000000000a1b2c 0000000000000007", RpctlscdV1.ConnectRes::decode);
        assertEquals(new RpctlscdV1.ConnectRes(0, 0x65f1a2b3L, 0xa1b2cL, 7), cres);
        var h = roundTrip("0000000065f1a2b3 00000000000a1b2c 0000000000000007", RpctlscdV1.HandlerecordArg::decode);
        assertEquals(7, h.ssl());
        assertEquals(2, roundTrip("00000002", RpctlscdV1.HandlerecordRes::decode).reterr());
        assertEquals(7, roundTrip("0000000065f1a2b3 00000000000a1b2c 0000000000000007", RpctlscdV1.DisconnectArg::decode).ssl());
        assertEquals(1, roundTrip("00000001", RpctlscdV1.DisconnectRes::decode).reterr());
        // rpctlssd_connect_res: flags, sec, usec, ssl, uid, gid<>
        var sres = roundTrip("0000002b 0000000065f1a2b3 00000000000a1b2c 0000000000000009 000003e8 00000002 000003e8 00000014",
                RpctlssdV1.ConnectRes::decode);
        assertEquals(new RpctlssdV1.ConnectRes(0x2b, 0x65f1a2b3L, 0xa1b2cL, 9, 1000, new int[] {1000, 20}), sres);
        assertEquals(9, roundTrip("0000000065f1a2b3 00000000000a1b2c 0000000000000009", RpctlssdV1.HandlerecordArg::decode).ssl());
        assertEquals(0, roundTrip("00000000", RpctlssdV1.HandlerecordRes::decode).reterr());
        assertEquals(9, roundTrip("0000000065f1a2b3 00000000000a1b2c 0000000000000009", RpctlssdV1.DisconnectArg::decode).ssl());
        assertEquals(1, roundTrip("00000001", RpctlssdV1.DisconnectRes::decode).reterr());
    }

    @Test
    void version2Structs() throws IOException {
        // rpctlscd_connect_arg: socookie first, then certname (rpctlscd.x @5ecc60fb07d1)
        var a = roundTrip("fffff80012345600 00000002 00000078 00000079", RpctlscdV2.ConnectArg::decode);
        assertEquals(0xfffff80012345600L, a.socookie());
        assertEquals("xy", new String(a.certname()));
        assertEquals(3, roundTrip("00000003", RpctlscdV2.ConnectRes::decode).reterr());
        assertEquals(0xfffff80012345600L, roundTrip("fffff80012345600", RpctlscdV2.HandlerecordArg::decode).socookie());
        assertEquals(0, roundTrip("00000000", RpctlscdV2.HandlerecordRes::decode).reterr());
        assertEquals(0xfffff80012345600L, roundTrip("fffff80012345600", RpctlscdV2.DisconnectArg::decode).socookie());
        assertEquals(1, roundTrip("00000001", RpctlscdV2.DisconnectRes::decode).reterr());
        assertEquals(0xfffff80012345600L, roundTrip("fffff80012345600", RpctlssdV2.ConnectArg::decode).socookie());
        // rpctlssd_connect_res: flags, uid, gid<>
        var sres = roundTrip("00000029 00000001 00000001 00000001", RpctlssdV2.ConnectRes::decode);
        assertEquals(new RpctlssdV2.ConnectRes(0x29, 1, new int[] {1}), sres);
        assertEquals(0xfffff80012345600L, roundTrip("fffff80012345600", RpctlssdV2.HandlerecordArg::decode).socookie());
        assertEquals(0, roundTrip("00000000", RpctlssdV2.HandlerecordRes::decode).reterr());
        assertEquals(0xfffff80012345600L, roundTrip("fffff80012345600", RpctlssdV2.DisconnectArg::decode).socookie());
        assertEquals(1, roundTrip("00000001", RpctlssdV2.DisconnectRes::decode).reterr());
    }

    @Test
    void malformedArraysAreRefused() {
        assertThrows(IOException.class, () -> decode(hex("00000005 00000061"), RpctlscdV1.ConnectArg::decode), "truncated");
        assertThrows(XdrArrays.MalformedXdrException.class, () -> decode(hex("00001389"), RpctlscdV1.ConnectArg::decode), "5001 chars");
        assertThrows(XdrArrays.MalformedXdrException.class, () -> decode(hex("ffffffff"), RpctlscdV1.ConnectArg::decode), "negative count");
        assertThrows(XdrArrays.MalformedXdrException.class, () -> decode(hex("00000001 00000100"), RpctlscdV1.ConnectArg::decode), "char 256");
        assertThrows(XdrArrays.MalformedXdrException.class,
                () -> decode(hex("00000000 00000000 00000401"), RpctlssdV2.ConnectRes::decode), "1025 gids");
        assertThrows(IOException.class, () -> decode(hex("fffff800"), RpctlssdV2.ConnectArg::decode), "half a hyper");
    }
}
