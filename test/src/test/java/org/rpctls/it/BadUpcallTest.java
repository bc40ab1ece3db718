package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rpctls.netlink.NetlinkMessage;
import org.rpctls.rpc.Rpctls;
import org.rpctls.tls.Role;
import org.rpctls.upcall.NetlinkUpcallTransport;

/**
 * Malformed upcalls, hand-built: each is answered as ONC RPC says (PROG_UNAVAIL, PROG_MISMATCH,
 * PROC_UNAVAIL, GARBAGE_ARGS, RPC_MISMATCH, AUTH_ERROR) or dropped with a log line, and the
 * daemon keeps serving.
 */
class BadUpcallTest {
    static final Duration WAIT = Duration.ofSeconds(3);

    /** An RPC CALL: xid, CALL, rpcvers, prog, vers, proc, cred, verf (AUTH_NONE), then the argument words. */
    static byte[] call(int xid, int rpcvers, int prog, int vers, int proc, int credFlavor, int... args) {
        ByteBuffer b = ByteBuffer.allocate(40 + 4 * args.length);
        b.putInt(xid).putInt(0).putInt(rpcvers).putInt(prog).putInt(vers).putInt(proc).putInt(credFlavor).putInt(0).putInt(0).putInt(0);
        for (int a : args) b.putInt(a);
        return b.array();
    }

    /** Frames {@code body} for the daemon's transport: a record (v1) or an RPCNL_REQUEST for the server group (v2). */
    static byte[] frame(int version, byte[] body) {
        if (version == 1) return ByteBuffer.allocate(4 + body.length).putInt(0x80000000 | body.length).put(body).array();
        return new NetlinkMessage(0x20, 0, ByteBuffer.wrap(body).getInt(), 0, NetlinkUpcallTransport.RPCNL_REQUEST, 0,
                List.of(NetlinkMessage.Attr.u32(NetlinkUpcallTransport.RPCNL_REQUEST_GROUP, 2),
                        new NetlinkMessage.Attr(NetlinkUpcallTransport.RPCNL_REQUEST_BODY, body))).encode();
    }

    /** The RPC reply inside the daemon's answer, as ints. */
    static ByteBuffer reply(int version, byte[] answer) throws Exception {
        return reply(version, answer, 2);
    }

    static ByteBuffer reply(int version, byte[] answer, int group) throws Exception {
        assertNotNull(answer, "no answer");
        if (version == 1) return ByteBuffer.wrap(answer);
        var m = NetlinkMessage.parseAll(answer).get(0);
        assertEquals(NetlinkUpcallTransport.RPCNL_REPLY, m.cmd());
        assertEquals(group, m.attr(NetlinkUpcallTransport.RPCNL_REPLY_GROUP).orElseThrow().u32());
        byte[] body = m.attr(NetlinkUpcallTransport.RPCNL_REPLY_BODY).orElseThrow().value();
        assertEquals(m.seq(), ByteBuffer.wrap(body).getInt(), "nlmsg_seq is the xid");
        return ByteBuffer.wrap(body);
    }

    /** Asserts an accepted reply with accept_stat {@code stat}; returns the rest. */
    static ByteBuffer accepted(ByteBuffer r, int xid, int stat) {
        assertEquals(xid, r.getInt(), "xid");
        assertEquals(1, r.getInt(), "REPLY");
        assertEquals(0, r.getInt(), "MSG_ACCEPTED");
        r.getInt(); // verifier flavor
        int verifierLength = r.getInt();
        r.position(r.position() + ((verifierLength + 3) & ~3));
        assertEquals(stat, r.getInt(), "accept_stat");
        return r;
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void malformedCallsAreAnsweredPerOncRpc(int version) throws Exception {
        int prog = Rpctls.RPCTLSSD;
        try (var s = Flows.start(version, Role.SERVER, "--no-ktls-check", "-D", TestPki.get().serverDir.toString())) {
            var k = s.kernel();
            // NULL works: the baseline
            accepted(reply(version, k.raw(Role.SERVER, frame(version, call(1, 2, prog, version, 0, 0)), WAIT)), 1, 0);
            // wrong program -> PROG_UNAVAIL
            accepted(reply(version, k.raw(Role.SERVER, frame(version, call(2, 2, 0x40677399, version, 0, 0)), WAIT)), 2, 1);
            // wrong version -> PROG_MISMATCH with the supported range
            var mm = accepted(reply(version, k.raw(Role.SERVER, frame(version, call(3, 2, prog, 7, 0, 0)), WAIT)), 3, 2);
            assertEquals(version, mm.getInt());
            assertEquals(version, mm.getInt());
            // unknown procedure -> PROC_UNAVAIL
            accepted(reply(version, k.raw(Role.SERVER, frame(version, call(4, 2, prog, version, 9, 0)), WAIT)), 4, 3);
            // HANDLERECORD with a truncated argument -> GARBAGE_ARGS
            accepted(reply(version, k.raw(Role.SERVER, frame(version, call(5, 2, prog, version, 2, 0, 0x1234)), WAIT)), 5, 4);
            // RPC version 3 -> MSG_DENIED RPC_MISMATCH (2..2)
            ByteBuffer d = reply(version, k.raw(Role.SERVER, frame(version, call(6, 3, prog, version, 0, 0)), WAIT));
            assertEquals(6, d.getInt());
            assertEquals(1, d.getInt());
            assertEquals(1, d.getInt(), "MSG_DENIED");
            assertEquals(0, d.getInt(), "RPC_MISMATCH");
            assertEquals(2, d.getInt());
            assertEquals(2, d.getInt());
            // an AUTH_TLS credential on the upcall channel -> MSG_DENIED AUTH_ERROR
            ByteBuffer a = reply(version, k.raw(Role.SERVER, frame(version, call(7, 2, prog, version, 0, 7)), WAIT));
            assertEquals(7, a.getInt());
            assertEquals(1, a.getInt());
            assertEquals(1, a.getInt(), "MSG_DENIED");
            assertEquals(1, a.getInt(), "AUTH_ERROR");
            // unknown ids -> NOSSL / NOCLOSE
            int[] id = version == 1 ? new int[] {0, 1, 0, 2, 0, 99} : new int[] {0x1234, 0x5678};
            assertEquals(Rpctls.RPCTLSERR_NOSSL, accepted(reply(version, k.raw(Role.SERVER, frame(version, call(8, 2, prog, version, 2, 0, id)), WAIT)), 8, 0).getInt());
            assertEquals(Rpctls.RPCTLSERR_NOCLOSE, accepted(reply(version, k.raw(Role.SERVER, frame(version, call(9, 2, prog, version, 3, 0, id)), WAIT)), 9, 0).getInt());
            k.nullCall(Role.SERVER);
        }
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void certnameGarbageIsGarbageArgs(int version) throws Exception {
        try (var s = Flows.start(version, Role.CLIENT, "--no-ktls-check")) {
            var k = s.kernel();
            int prog = Rpctls.RPCTLSCD;
            int[] prefix = version == 1 ? new int[0] : new int[] {0, 0x100}; // v2: socookie first
            int[] oversize = concat(prefix, new int[] {5000});
            int[] truncated = concat(prefix, new int[] {5, 'a', 'b'});
            int[] outOfRange = concat(prefix, new int[] {1, 0x1000});
            for (int[] args : new int[][] {oversize, truncated, outOfRange}) {
                ByteBuffer r = reply(version, k.raw(Role.CLIENT, frameFor(version, 0, call(11, 2, prog, version, 1, 0, args)), WAIT), 1);
                accepted(r, 11, 4);
            }
            assertEquals(0, k.claims(), "no socket was claimed for garbage");
            k.nullCall(Role.CLIENT);
        }
    }

    /** Frames for the client group (1) in v2. */
    static byte[] frameFor(int version, int unused, byte[] body) {
        if (version == 1) return frame(1, body);
        return new NetlinkMessage(0x20, 0, ByteBuffer.wrap(body).getInt(), 0, NetlinkUpcallTransport.RPCNL_REQUEST, 0,
                List.of(NetlinkMessage.Attr.u32(NetlinkUpcallTransport.RPCNL_REQUEST_GROUP, 1),
                        new NetlinkMessage.Attr(NetlinkUpcallTransport.RPCNL_REQUEST_BODY, body))).encode();
    }

    static int[] concat(int[] a, int[] b) {
        int[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @ParameterizedTest(name = "version {0}")
    @ValueSource(ints = {1, 2})
    void garbageIsDroppedWithALogLineAndServiceContinues(int version) throws Exception {
        try (var s = Flows.start(version, Role.SERVER, "--no-ktls-check", "-D", TestPki.get().serverDir.toString())) {
            var k = s.kernel();
            byte[] junk = new byte[200];
            new Random(7).nextBytes(junk);
            if (version == 1) {
                // a random record, a record announcing 2 GiB, a record cut short
                assertNull(k.raw(Role.SERVER, frame(1, junk), Duration.ofMillis(500)));
                assertNull(k.raw(Role.SERVER, ByteBuffer.allocate(8).putInt(0xffffffff).putInt(1).array(), Duration.ofMillis(500)));
                s.daemon().awaitLine("record longer than");
                assertNull(k.raw(Role.SERVER, ByteBuffer.allocate(8).putInt(0x80000010).putInt(1).array(), Duration.ofMillis(300)));
            } else {
                // random bytes, a truncated header, a bad attribute length, another family, another group, no body
                assertNull(k.raw(Role.SERVER, junk, Duration.ofMillis(300)));
                s.daemon().awaitLine("netlink packet of 200 bytes dropped");
                assertNull(k.raw(Role.SERVER, new byte[] {1, 2, 3}, Duration.ofMillis(300)));
                byte[] good = frame(2, call(21, 2, Rpctls.RPCTLSSD, 2, 0, 0));
                byte[] badAttr = good.clone();
                ByteBuffer.wrap(badAttr).order(ByteOrder.nativeOrder()).putShort(28, (short) 0x7fff);
                assertNull(k.raw(Role.SERVER, badAttr, Duration.ofMillis(300)));
                byte[] otherFamily = good.clone();
                ByteBuffer.wrap(otherFamily).order(ByteOrder.nativeOrder()).putShort(4, (short) 0x21);
                assertNull(k.raw(Role.SERVER, otherFamily, Duration.ofMillis(300)));
                assertNull(k.raw(Role.SERVER, frameFor(2, 0, call(22, 2, Rpctls.RPCTLSSD, 2, 0, 0)), Duration.ofMillis(300)), "client group");
                byte[] noBody = new NetlinkMessage(0x20, 0, 23, 0, NetlinkUpcallTransport.RPCNL_REQUEST, 0,
                        List.of(NetlinkMessage.Attr.u32(NetlinkUpcallTransport.RPCNL_REQUEST_GROUP, 2))).encode();
                assertNull(k.raw(Role.SERVER, noBody, Duration.ofMillis(300)));
                s.daemon().awaitLine("without a body dropped");
                // and a good one still works on the same channel
                accepted(reply(2, k.raw(Role.SERVER, good, WAIT)), 21, 0);
            }
            k.nullCall(Role.SERVER);
            assertTrue(s.daemon().isAlive());
        }
    }
}
