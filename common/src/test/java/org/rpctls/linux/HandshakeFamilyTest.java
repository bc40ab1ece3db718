package org.rpctls.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.rpctls.netlink.MalformedNetlinkException;
import org.rpctls.netlink.NetlinkMessage;

/** The Linux "handshake" family's messages against hand-built bytes (little-endian host order). */
class HandshakeFamilyTest {
    static byte[] hex(String h) {
        return HexFormat.of().parseHex(h.replace(" ", ""));
    }

    static boolean littleEndian() {
        return ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
    }

    /** An ACCEPT reply as net/handshake/tlshd.c emits it for an NFS client mtls mount. */
    static final String ACCEPT_REPLY =
            "60000000 2100 0000 07000000 00000000" // nlmsghdr: len 96, family 0x21, seq 7
            + "02 01 0000"                          // genl: HANDSHAKE_CMD_ACCEPT, version 1
            + "0800 0100 09000000"                  // SOCKFD 9
            + "0800 0300 01000000"                  // MESSAGE_TYPE CLIENTHELLO
            + "1000 0800 6e66732e6578616d706c6500"  // PEERNAME "nfs.example\0"
            + "0800 0400 204e0000"                  // TIMEOUT 20000 ms
            + "0800 0500 03000000"                  // AUTH_MODE X509
            + "1400 0700 0800 0100 39300000 0800 0200 3a300000" // CERTIFICATE { CERT 12345, PRIVKEY 12346 }
            + "0800 6300 01000000";                 // attribute 99 from a future kernel: ignored

    @Test
    void parsesAnAcceptReply() throws Exception {
        if (!littleEndian()) return;
        var m = NetlinkMessage.parseAll(hex(ACCEPT_REPLY)).get(0);
        assertEquals(HandshakeFamily.CMD_ACCEPT, m.cmd());
        var p = HandshakeFamily.parseAccept(m.attrs());
        assertEquals(9, p.sockfd());
        assertEquals(HandshakeFamily.MSG_TYPE_CLIENTHELLO, p.messageType());
        assertEquals("nfs.example", p.peername());
        assertEquals(20000, p.timeoutMs());
        assertEquals(HandshakeFamily.AUTH_X509, p.authMode());
        assertEquals(12345, p.certSerial());
        assertEquals(12346, p.privkeySerial());
        assertEquals(0, p.keyring());
        // handing it to the sibling keeps every parameter (with the sibling's descriptor)
        var again = HandshakeFamily.parseAccept(NetlinkMessage.parseAll(
                new NetlinkMessage(0, 0, 0, 0, HandshakeFamily.CMD_ACCEPT, 1, p.withSockfd(4).attrs()).encode()).get(0).attrs());
        assertEquals(p.withSockfd(4), again);
    }

    @Test
    void encodesAcceptAndDone() {
        if (!littleEndian()) return;
        assertArrayEquals(hex("1c000000 2100 0100 05000000 00000000 02 01 0000 0800 0200 01000000"), HandshakeFamily.accept(0x21, 5));
        // DONE: flags REQUEST|ACK, STATUS 0, SOCKFD 9, REMOTE_AUTH 0xffffffff
        assertArrayEquals(hex("2c000000 2100 0500 06000000 00000000 03 01 0000 0800 0100 00000000 0800 0200 09000000 0800 0300 ffffffff"),
                HandshakeFamily.done(0x21, 6, 0, 9, List.of(HandshakeFamily.REMOTE_AUTH_VERIFIED_CERT)));
        // a failed DONE never carries REMOTE_AUTH (the kernel would ignore it; tlshd omits it)
        assertArrayEquals(hex("24000000 2100 0500 06000000 00000000 03 01 0000 0800 0100 0d000000 0800 0200 09000000"),
                HandshakeFamily.done(0x21, 6, 13, 9, List.of(HandshakeFamily.REMOTE_AUTH_VERIFIED_CERT)));
    }

    @Test
    void refusesIncompleteOrMalformedReplies() throws Exception {
        if (!littleEndian()) return;
        assertThrows(MalformedNetlinkException.class, () -> HandshakeFamily.parseAccept(
                NetlinkMessage.parseAll(hex("1c000000 2100 0000 07000000 00000000 02 01 0000 0800 0300 01000000")).get(0).attrs()), "no sockfd");
        assertThrows(MalformedNetlinkException.class, () -> HandshakeFamily.parseAccept(
                NetlinkMessage.parseAll(hex("1c000000 2100 0000 07000000 00000000 02 01 0000 0800 0100 09000000")).get(0).attrs()), "no message type");
        assertThrows(MalformedNetlinkException.class, () -> HandshakeFamily.parseAccept(
                NetlinkMessage.parseAll(hex("1c000000 2100 0000 07000000 00000000 02 01 0000 0600 0100 0900 0000")).get(0).attrs()), "short sockfd");
        assertThrows(MalformedNetlinkException.class, () -> NetlinkMessage.parseAll(hex(ACCEPT_REPLY.substring(0, 80))), "truncated");
        var emptyName = HandshakeFamily.parseAccept(NetlinkMessage.parseAll(hex(
                "2c000000 2100 0000 07000000 00000000 02 01 0000 0800 0100 09000000 0800 0300 02000000 0500 0800 00000000")).get(0).attrs());
        assertNull(emptyName.peername(), "an empty peer name is no peer name");
        // a peer name no host name could be (the fuzzer's finding: too long for the sibling handoff)
        var longName = new HandshakeFamily.AcceptParams(9, 1, 1, "x".repeat(30_000), 0, List.of(), 0, 0, 0);
        assertThrows(MalformedNetlinkException.class, () -> HandshakeFamily.parseAccept(longName.attrs()), "30,000-character peername");
        var hostName = new HandshakeFamily.AcceptParams(9, 1, 1, "a".repeat(253), 0, List.of(), 0, 0, 0);
        assertEquals(hostName.peername(), HandshakeFamily.parseAccept(hostName.attrs()).peername());
    }
}
