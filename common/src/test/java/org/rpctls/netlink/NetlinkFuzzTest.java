package org.rpctls.netlink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * The netlink parsers, fed arbitrary packets. Contract (NetlinkMessage's class comment): parsing
 * returns messages or throws MalformedNetlinkException, "never an index error"; so do the typed
 * attribute readers. What parses re-encodes to a packet that parses to the same messages.
 */
class NetlinkFuzzTest {
    /** parseAll, then every accessor a daemon uses on what came out, recursively into nested attributes. */
    @FuzzTest(maxDuration = "30s")
    void parseAll(byte[] packet) throws MalformedNetlinkException {
        List<NetlinkMessage> messages;
        try {
            messages = NetlinkMessage.parseAll(packet);
        } catch (MalformedNetlinkException e) {
            return;
        }
        for (NetlinkMessage m : messages) {
            if (m.type() == NetlinkMessage.NLMSG_ERROR) {
                try {
                    m.errorCode();
                } catch (MalformedNetlinkException e) {
                    // a short NLMSG_ERROR: reported, fine
                }
                continue;
            }
            if (m.type() == NetlinkMessage.NLMSG_DONE) continue;
            for (NetlinkMessage.Attr a : m.attrs()) readEverything(a, 0);
            // nothing lost: the encoder's packet for the parsed message parses to the same message
            byte[] again = m.encode();
            assertEquals(List.of(m), NetlinkMessage.parseAll(again), "message changed across encode/parse");
        }
    }

    static void readEverything(NetlinkMessage.Attr a, int depth) {
        try {
            a.u16();
            a.u32();
            a.u64();
        } catch (MalformedNetlinkException e) {
            // too short for the type: reported, fine
        }
        a.string();
        if (depth > 3) return;
        try {
            for (NetlinkMessage.Attr inner : a.nested()) readEverything(inner, depth + 1);
        } catch (MalformedNetlinkException e) {
            // not nested attributes: reported, fine
        }
    }

    /** A socket that answers the CTRL_CMD_GETFAMILY request with the fuzzer's packet (its first message given the request's seq). */
    static final class ReplyingSocket implements NetlinkSocket {
        private final byte[] answer;
        private int seq;
        private boolean answered;

        ReplyingSocket(byte[] answer) {
            this.answer = answer.clone();
        }

        @Override
        public void send(byte[] packet) {
            seq = ByteBuffer.wrap(packet).order(NetlinkMessage.ORDER).getInt(8);
        }

        @Override
        public byte[] receive() {
            if (answered) return null;
            answered = true;
            if (answer.length >= 12) ByteBuffer.wrap(answer).order(NetlinkMessage.ORDER).putInt(8, seq);
            return answer;
        }

        @Override
        public void joinGroup(int group) {}

        @Override
        public void close() {}
    }

    /**
     * Family resolution (GenericNetlink.resolve, used for "rpc" on FreeBSD 15 and "handshake" on
     * Linux) on a fuzzed nlctrl answer. Contract: a Family, an IOException (closed socket, errno)
     * or MalformedNetlinkException.
     */
    @FuzzTest(maxDuration = "30s")
    void resolveFamily(byte[] answer) {
        try {
            var family = GenericNetlink.resolve(new ReplyingSocket(answer), "rpc");
            assertEquals("rpc", family.name());
            assertTrue(family.id() >= 0 && family.id() <= 0xffff, "family id " + family.id());
        } catch (IOException | MalformedNetlinkException e) {
            // refused: fine
        }
    }
}
