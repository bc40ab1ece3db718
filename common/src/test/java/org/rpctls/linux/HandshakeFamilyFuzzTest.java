package org.rpctls.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.List;
import org.rpctls.netlink.MalformedNetlinkException;
import org.rpctls.netlink.NetlinkMessage;

/**
 * Linux's "handshake" family as the agent reads it (LinuxHandshakeAgent: READY notifications,
 * the ACCEPT reply, NLMSG_ERROR acks of ACCEPT and DONE) and as SiblingLink reads a handed-over
 * request. Contract: parsed parameters or MalformedNetlinkException, nothing else.
 */
class HandshakeFamilyFuzzTest {
    static final int FAMILY = 0x22;

    /** One received packet, every message handled the way the agent's loops handle it. */
    @FuzzTest(maxDuration = "30s")
    void agentPacket(byte[] packet) throws MalformedNetlinkException {
        List<NetlinkMessage> messages;
        try {
            messages = NetlinkMessage.parseAll(packet);
        } catch (MalformedNetlinkException e) {
            return;
        }
        for (NetlinkMessage m : messages) {
            try {
                if (m.type() == NetlinkMessage.NLMSG_ERROR) {
                    m.errorCode(); // ACCEPT refused (EAGAIN...) or the DONE ack
                    continue;
                }
                if (m.type() != FAMILY) continue;
                if (m.cmd() == HandshakeFamily.CMD_READY) {
                    var cls = m.attr(HandshakeFamily.A_ACCEPT_HANDLER_CLASS);
                    if (cls.isPresent()) cls.get().u32();
                } else if (m.cmd() == HandshakeFamily.CMD_ACCEPT) {
                    checkAccept(m.attrs());
                }
            } catch (MalformedNetlinkException e) {
                // refused: fine
            }
        }
    }

    /** The ACCEPT attribute list alone (SiblingLink hands exactly this over). */
    @FuzzTest(maxDuration = "30s")
    void acceptAttributes(byte[] attrs) throws MalformedNetlinkException {
        // wrap the fuzzed attribute bytes in a valid nlmsghdr + genlmsghdr so only the attributes vary
        byte[] header = new NetlinkMessage(FAMILY, 0, 1, 0, HandshakeFamily.CMD_ACCEPT, HandshakeFamily.VERSION, List.of()).encode();
        byte[] packet = new byte[header.length + attrs.length];
        System.arraycopy(header, 0, packet, 0, header.length);
        System.arraycopy(attrs, 0, packet, header.length, attrs.length);
        java.nio.ByteBuffer.wrap(packet).order(java.nio.ByteOrder.nativeOrder()).putInt(0, packet.length);
        List<NetlinkMessage> messages;
        try {
            messages = NetlinkMessage.parseAll(packet);
            checkAccept(messages.get(0).attrs());
        } catch (MalformedNetlinkException e) {
            // refused: fine
        }
    }

    /**
     * parseAccept, and the parameters' own encoding (what SiblingLink sends) parses back to the
     * same parameters: nothing the daemon acts on is lost or changed on the hand-over.
     */
    static void checkAccept(List<NetlinkMessage.Attr> attrs) throws MalformedNetlinkException {
        HandshakeFamily.AcceptParams p = HandshakeFamily.parseAccept(attrs);
        assertTrue(p.sockfd() >= 0, "negative socket accepted");
        assertTrue(p.peerIdentities().size() <= 5, p.peerIdentities().size() + " peer identities kept");
        assertTrue(p.peername() == null || !p.peername().isEmpty(), "empty peername kept");
        p.messageTypeName();
        p.authModeName();
        var handedOver = new NetlinkMessage(FAMILY, 0, 1, 0, HandshakeFamily.CMD_ACCEPT, HandshakeFamily.VERSION, p.attrs()).encode();
        assertEquals(p, HandshakeFamily.parseAccept(NetlinkMessage.parseAll(handedOver).get(0).attrs()), "parameters changed on the hand-over");
    }
}
