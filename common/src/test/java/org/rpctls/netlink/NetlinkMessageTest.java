package org.rpctls.netlink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.rpctls.upcall.NetlinkUpcallTransport;

/** FreeBSD 15's "rpc" netlink messages as bytes (host order, little-endian here), and malformed ones. */
class NetlinkMessageTest {
    static byte[] hex(String h) {
        return HexFormat.of().parseHex(h.replace(" ", ""));
    }

    /** An RPCNL_REQUEST as clnt_nl.c builds it: type = family 0x20, flags 0, seq = xid, pid 0; cmd 1; GROUP then BODY. */
    static final String REQUEST =
            "30000000 2000 0000 78563412 00000000" // nlmsghdr: len 48, type 0x20, flags 0, seq 0x12345678, pid 0
            + "01 00 0000"                         // genlmsghdr: cmd RPCNL_REQUEST, version 0
            + "0800 0100 02000000"                 // RPCNL_REQUEST_GROUP = 2 (tlsserv)
            + "1400 0200 12345678 00000000 00000002 40677375"; // RPCNL_REQUEST_BODY: 16 bytes of an RPC call (truncated for the test)

    @Test
    void requestAsTheKernelSendsIt() throws Exception {
        var msgs = NetlinkMessage.parseAll(hex(REQUEST));
        assertEquals(1, msgs.size());
        var m = msgs.get(0);
        assertEquals(0x20, m.type());
        assertEquals(0, m.flags());
        assertEquals(0x12345678, m.seq());
        assertEquals(NetlinkUpcallTransport.RPCNL_REQUEST, m.cmd());
        assertEquals(2, m.attr(NetlinkUpcallTransport.RPCNL_REQUEST_GROUP).orElseThrow().u32());
        assertArrayEquals(hex("12345678 00000000 00000002 40677375"), m.attr(NetlinkUpcallTransport.RPCNL_REQUEST_BODY).orElseThrow().value());
        assertArrayEquals(hex(REQUEST), m.encode(), "re-encoded byte for byte");
    }

    @Test
    void replyAsSvcNlSendsIt() throws Exception {
        byte[] rpcReply = hex("12345678 00000001 00000000 00000000 00000000 00000000 00000000");
        byte[] wire = NetlinkUpcallTransport.replyMessage(0x20, 2, rpcReply);
        String expected = "3c000000 2000 0100 78563412 00000000" // len 60, type 0x20, NLM_F_REQUEST, seq = xid, pid 0
                + "02 00 0000"                                    // RPCNL_REPLY
                + "0800 0300 02000000"                            // RPCNL_REPLY_GROUP = 2
                + "2000 0400" + "12345678 00000001 00000000 00000000 00000000 00000000 00000000"; // RPCNL_REPLY_BODY
        if (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) assertArrayEquals(hex(expected), wire);
        var m = NetlinkMessage.parseAll(wire).get(0);
        assertEquals(0x12345678, m.seq());
        assertArrayEquals(rpcReply, m.attr(NetlinkUpcallTransport.RPCNL_REPLY_BODY).orElseThrow().value());
    }

    @Test
    void errorMessagesCarryTheErrno() throws Exception {
        byte[] err = ByteBuffer.allocate(36).order(ByteOrder.nativeOrder()).putInt(36).putShort((short) 2).putShort((short) 0)
                .putInt(7).putInt(0).putInt(-2).array();
        var m = NetlinkMessage.parseAll(err).get(0);
        assertEquals(NetlinkMessage.NLMSG_ERROR, m.type());
        assertEquals(-2, m.errorCode());
    }

    @Test
    void nestedAttributes() throws Exception {
        var inner = new NetlinkMessage(0x10, 0, 1, 0, 1, 1, List.of(NetlinkMessage.Attr.string(1, "tlshd"), NetlinkMessage.Attr.u32(2, 9)));
        byte[] innerAttrs = java.util.Arrays.copyOfRange(inner.encode(), 20, inner.encode().length);
        var outer = new NetlinkMessage(0x10, 0, 1, 0, 1, 1, List.of(new NetlinkMessage.Attr(7, innerAttrs)));
        var nested = NetlinkMessage.parseAll(outer.encode()).get(0).attr(7).orElseThrow().nested();
        assertEquals("tlshd", nested.get(0).string());
        assertEquals(9, nested.get(1).u32());
    }

    @Test
    void malformedMessagesAreRejectedCleanly() {
        String[] bad = {
            "2c000000 2000 0000",                                          // truncated header
            "ff000000 2000 0000 78563412 00000000 01000000",               // nlmsg_len beyond the packet
            "08000000 2000 0000 78563412 00000000",                        // nlmsg_len below the header
            "14000000 2000 0000 78563412 00000000 01000000 0800",         // nlmsg_len 20 but 2 more bytes
            "18000000 2000 0000 78563412 00000000 01000000 0900 0100",   // attribute longer than the message
            "18000000 2000 0000 78563412 00000000 01000000 0200 0100",   // attribute length below its header
            "12000000 2000 0000 78563412 00000000 0100",                   // no room for the genlmsghdr
        };
        for (String b : bad) {
            assertThrows(MalformedNetlinkException.class, () -> NetlinkMessage.parseAll(hex(b)), b);
        }
    }
}
