package org.rpctls.fuzz;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.dcache.oncrpc4j.xdr.Xdr;
import org.dcache.oncrpc4j.xdr.XdrAble;
import org.rpctls.linux.HandshakeFamily;
import org.rpctls.netlink.GenericNetlink;
import org.rpctls.netlink.NetlinkMessage;
import org.rpctls.netlink.NetlinkMessage.Attr;
import org.rpctls.rpc.RpcPrograms;
import org.rpctls.rpc.Rpctls;
import org.rpctls.rpc.RpctlscdV1;
import org.rpctls.rpc.RpctlscdV2;
import org.rpctls.rpc.RpctlssdV1;
import org.rpctls.rpc.RpctlssdV2;
import org.rpctls.rpc.XdrRecord;

/**
 * Writes the seed corpora of the @FuzzTests (valid messages made by the project's encoders) into
 * common/src/test/resources/&lt;package&gt;/&lt;Class&gt;Inputs/&lt;method&gt;/seed-*. Run from the
 * repository root after test-compile:
 * {@code java -cp common/target/test-classes:common/target/classes:$(deps) org.rpctls.fuzz.SeedCorpus}.
 * The DER certificates of CertFuzzTest come from openssl instead (docs/hardening-fuzz.md).
 */
public final class SeedCorpus {
    private SeedCorpus() {}

    static final Path ROOT = Path.of("common/src/test/resources/org/rpctls");
    /** The family/group ids the fuzz tests use for "rpc" / "tlsclnt" and for "handshake". */
    static final int RPC_FAMILY = 0x1d;
    static final int RPC_GROUP = 3;
    static final int HANDSHAKE_FAMILY = 0x22;

    public static void main(String[] args) throws IOException {
        // XdrFuzzTest.structDecoders: decoder index, then the struct (order of XdrFuzzTest.DECODERS)
        List<XdrRecord> structs = List.of(
                new RpctlscdV1.ConnectArg("client1".getBytes(StandardCharsets.ISO_8859_1)), new RpctlscdV1.ConnectRes(0, 0x65f1a2b3L, 0xa1b2cL, 7),
                new RpctlscdV1.HandlerecordArg(0x65f1a2b3L, 0xa1b2cL, 7), new RpctlscdV1.HandlerecordRes(0),
                new RpctlscdV1.DisconnectArg(0x65f1a2b3L, 0xa1b2cL, 7), new RpctlscdV1.DisconnectRes(1),
                new RpctlscdV2.ConnectArg(0xfffff80012345600L, "\u00e9t\u00e9".getBytes(StandardCharsets.ISO_8859_1)), new RpctlscdV2.ConnectRes(2),
                new RpctlscdV2.HandlerecordArg(0xfffff80012345600L), new RpctlscdV2.HandlerecordRes(0),
                new RpctlscdV2.DisconnectArg(0xfffff80012345600L), new RpctlscdV2.DisconnectRes(0),
                new RpctlssdV1.ConnectRes(0x2b, 0x65f1a2b3L, 0xa1b2cL, 9, 1000, new int[] {1000, 20}), new RpctlssdV1.HandlerecordArg(1, 2, 9),
                new RpctlssdV1.HandlerecordRes(0), new RpctlssdV1.DisconnectArg(1, 2, 9), new RpctlssdV1.DisconnectRes(1),
                new RpctlssdV2.ConnectArg(0xfffff80012345600L), new RpctlssdV2.ConnectRes(0x2b, 1000, new int[] {1000, 0, 5}),
                new RpctlssdV2.HandlerecordArg(0xfffff80012345600L), new RpctlssdV2.HandlerecordRes(0),
                new RpctlssdV2.DisconnectArg(0xfffff80012345600L), new RpctlssdV2.DisconnectRes(0));
        for (int i = 0; i < structs.size(); i++) {
            write("rpc/XdrFuzzTestInputs/structDecoders", String.format("seed-%02d-%s", i, name(structs.get(i))), concat(new byte[] {(byte) i}, xdr(structs.get(i))));
        }

        // every procedure of both programs and generations, with the kernel's AUTH_NONE (and one AUTH_UNIX)
        List<byte[]> calls = new ArrayList<>();
        int xid = 0x1000;
        for (int version : new int[] {Rpctls.VERSION_1, Rpctls.VERSION_2}) {
            boolean v1 = version == Rpctls.VERSION_1;
            calls.add(call(xid++, Rpctls.RPCTLSCD, version, Rpctls.NULLPROC, null, false));
            calls.add(call(xid++, Rpctls.RPCTLSCD, version, Rpctls.CONNECT,
                    v1 ? new RpctlscdV1.ConnectArg("client1".getBytes(StandardCharsets.ISO_8859_1))
                       : new RpctlscdV2.ConnectArg(0xfffff80012345600L, new byte[0]), false));
            calls.add(call(xid++, Rpctls.RPCTLSCD, version, Rpctls.HANDLERECORD,
                    v1 ? new RpctlscdV1.HandlerecordArg(1, 2, 3) : new RpctlscdV2.HandlerecordArg(0xfffff80012345600L), false));
            calls.add(call(xid++, Rpctls.RPCTLSCD, version, Rpctls.DISCONNECT,
                    v1 ? new RpctlscdV1.DisconnectArg(1, 2, 3) : new RpctlscdV2.DisconnectArg(0xfffff80012345600L), true));
            calls.add(call(xid++, Rpctls.RPCTLSSD, version, Rpctls.NULLPROC, null, false));
            calls.add(call(xid++, Rpctls.RPCTLSSD, version, Rpctls.CONNECT, v1 ? null : new RpctlssdV2.ConnectArg(0xfffff80012345600L), false));
            calls.add(call(xid++, Rpctls.RPCTLSSD, version, Rpctls.HANDLERECORD,
                    v1 ? new RpctlssdV1.HandlerecordArg(1, 2, 3) : new RpctlssdV2.HandlerecordArg(0xfffff80012345600L), false));
            calls.add(call(xid++, Rpctls.RPCTLSSD, version, Rpctls.DISCONNECT,
                    v1 ? new RpctlssdV1.DisconnectArg(1, 2, 3) : new RpctlssdV2.DisconnectArg(0xfffff80012345600L), true));
        }
        for (int i = 0; i < calls.size(); i++) write("upcall/UpcallFuzzTestInputs/rpcMessage", String.format("seed-call-%02d", i), calls.get(i));

        // version 1: record-marked streams (several calls, and one call split into three fragments)
        write("upcall/UpcallFuzzTestInputs/localStream", "seed-client-calls", concat(mark(calls.get(0)), mark(calls.get(1)), mark(calls.get(2)), mark(calls.get(3))));
        write("upcall/UpcallFuzzTestInputs/localStream", "seed-server-calls", concat(mark(calls.get(12)), mark(calls.get(13)), mark(calls.get(14)), mark(calls.get(15))));
        write("upcall/UpcallFuzzTestInputs/localStream", "seed-fragments", fragments(calls.get(1), 8, 16));
        write("rpc/XdrFuzzTestInputs/recordMarking", "seed-whole-records", concat(new byte[] {0}, mark(calls.get(1)), mark(calls.get(5))));
        write("rpc/XdrFuzzTestInputs/recordMarking", "seed-fragments-small-reads", concat(new byte[] {3}, fragments(calls.get(1), 8, 16), mark(new byte[0])));

        // version 2: RPCNL_REQUEST packets for the client's and the server's group
        for (int i = 8; i < 16; i++) {
            write("upcall/UpcallFuzzTestInputs/netlinkPacket", String.format("seed-request-%02d", i),
                    new NetlinkMessage(RPC_FAMILY, 0, 0, 0, 1, 1, List.of(Attr.u32(1, RPC_GROUP), new Attr(2, calls.get(i)))).encode());
        }
        write("upcall/UpcallFuzzTestInputs/netlinkPacket", "seed-two-requests", concat(
                new NetlinkMessage(RPC_FAMILY, 0, 0, 0, 1, 1, List.of(Attr.u32(1, RPC_GROUP), new Attr(2, calls.get(9)))).encode(),
                new NetlinkMessage(RPC_FAMILY, 0, 0, 0, 1, 1, List.of(Attr.u32(1, RPC_GROUP), new Attr(2, calls.get(11)))).encode()));

        // netlink: nlctrl answers, acks, errors, several messages per packet
        byte[] nlctrl = nlctrlAnswer("rpc", RPC_FAMILY, "tlsclnt", 3, "tlsserv", 4);
        write("netlink/NetlinkFuzzTestInputs/parseAll", "seed-nlctrl-answer", nlctrl);
        write("netlink/NetlinkFuzzTestInputs/parseAll", "seed-ack-and-done", concat(error(1, 0), done(2)));
        write("netlink/NetlinkFuzzTestInputs/parseAll", "seed-error-enoent", error(1, -2));
        write("netlink/NetlinkFuzzTestInputs/parseAll", "seed-rpc-request",
                new NetlinkMessage(RPC_FAMILY, 0, 0, 0, 1, 1, List.of(Attr.u32(1, RPC_GROUP), new Attr(2, calls.get(9)))).encode());
        write("netlink/NetlinkFuzzTestInputs/resolveFamily", "seed-rpc", nlctrl);
        write("netlink/NetlinkFuzzTestInputs/resolveFamily", "seed-handshake", nlctrlAnswer("handshake", HANDSHAKE_FAMILY, "tlshd", 5, "none", 6));
        write("netlink/NetlinkFuzzTestInputs/resolveFamily", "seed-enoent", error(1, -2));

        // Linux handshake family: READY, ACCEPT replies (x509 client, psk server), acks and errors
        var x509 = new HandshakeFamily.AcceptParams(7, HandshakeFamily.MSG_TYPE_CLIENTHELLO, HandshakeFamily.AUTH_X509, "nfs.example.org", 30000,
                List.of(), 0x11223344, 0x55667788, 0x0abcdef0);
        var psk = new HandshakeFamily.AcceptParams(9, HandshakeFamily.MSG_TYPE_SERVERHELLO, HandshakeFamily.AUTH_PSK, null, 0,
                List.of(101, 102, 103), 0, 0, 0);
        for (var p : List.of(x509, psk)) {
            byte[] m = new NetlinkMessage(HANDSHAKE_FAMILY, 0, 1, 0, HandshakeFamily.CMD_ACCEPT, 1, p.attrs()).encode();
            String n = p.authModeName();
            write("linux/HandshakeFamilyFuzzTestInputs/agentPacket", "seed-accept-" + n, m);
            write("linux/HandshakeFamilyFuzzTestInputs/acceptAttributes", "seed-accept-" + n,
                    java.util.Arrays.copyOfRange(m, NetlinkMessage.NLMSG_HDRLEN + NetlinkMessage.GENL_HDRLEN, m.length));
        }
        write("linux/HandshakeFamilyFuzzTestInputs/agentPacket", "seed-ready",
                new NetlinkMessage(HANDSHAKE_FAMILY, 0, 0, 0, HandshakeFamily.CMD_READY, 1, List.of(Attr.u32(HandshakeFamily.A_ACCEPT_HANDLER_CLASS, 1))).encode());
        write("linux/HandshakeFamilyFuzzTestInputs/agentPacket", "seed-done-ack", error(5, 0));
        write("linux/HandshakeFamilyFuzzTestInputs/agentPacket", "seed-accept-eagain", error(4, -11));
        write("linux/HandshakeFamilyFuzzTestInputs/agentPacket", "seed-done-request", HandshakeFamily.done(HANDSHAKE_FAMILY, 5, 0, 7, List.of(101)));

        // names
        for (String n : List.of("client1", "a.b-c_d@e,f=g+h", "../etc/passwd", ".hidden", "x/y", "caf\u00e9")) {
            write("tls/CertFuzzTestInputs/certName", "seed-" + n.replaceAll("[^A-Za-z0-9]", "_"), n.getBytes(StandardCharsets.ISO_8859_1));
        }
        for (String v : List.of("rmacklem@example.org", "Bob@EXAMPLE.ORG", "a@example.org.evil", "\u00e9l\u00e8ve@example.org")) {
            write("tls/CertFuzzTestInputs/otherNameValue", "seed-" + v.replaceAll("[^A-Za-z0-9]", "_"), v.getBytes(StandardCharsets.UTF_8));
        }
    }

    static String name(XdrRecord r) {
        String c = r.getClass().getName();
        return c.substring(c.lastIndexOf('.') + 1).replace('$', '-');
    }

    static void write(String dir, String file, byte[] data) throws IOException {
        Path d = ROOT.resolve(dir);
        Files.createDirectories(d);
        Files.write(d.resolve(file), data);
    }

    static byte[] xdr(XdrAble r) throws IOException {
        Xdr x = new Xdr(512);
        x.beginEncoding();
        r.xdrEncode(x);
        x.endEncoding();
        ByteBuffer b = RpcPrograms.bytes(x);
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    /** An RPC CALL message: header (AUTH_NONE, or AUTH_UNIX uid 0 with two gids), then the arguments. */
    static byte[] call(int xid, int prog, int vers, int proc, XdrRecord args, boolean authUnix) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(128);
        h.putInt(xid).putInt(0).putInt(2).putInt(prog).putInt(vers).putInt(proc);
        if (authUnix) {
            byte[] machine = "kernel".getBytes(StandardCharsets.US_ASCII);
            int bodyLen = 4 + 4 + ((machine.length + 3) & ~3) + 4 + 4 + 4 + 2 * 4;
            h.putInt(1).putInt(bodyLen).putInt(0).putInt(machine.length).put(machine);
            h.position((h.position() + 3) & ~3);
            h.putInt(0).putInt(0).putInt(2).putInt(0).putInt(5);
        } else {
            h.putInt(0).putInt(0);
        }
        h.putInt(0).putInt(0); // verifier AUTH_NONE
        byte[] head = java.util.Arrays.copyOf(h.array(), h.position());
        return args == null ? head : concat(head, xdr(args));
    }

    static byte[] mark(byte[] record) {
        return concat(ByteBuffer.allocate(4).putInt(0x80000000 | record.length).array(), record);
    }

    /** {@code record} as three fragments, cut at {@code a} and {@code b}. */
    static byte[] fragments(byte[] record, int a, int b) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int[] cuts = {0, a, b, record.length};
        for (int i = 0; i < 3; i++) {
            int len = cuts[i + 1] - cuts[i];
            out.writeBytes(ByteBuffer.allocate(4).putInt((i == 2 ? 0x80000000 : 0) | len).array());
            out.write(record, cuts[i], len);
        }
        return out.toByteArray();
    }

    static byte[] nlctrlAnswer(String family, int id, String group1, int id1, String group2, int id2) {
        byte[] g1 = attrBytes(List.of(Attr.string(GenericNetlink.CTRL_ATTR_MCAST_GRP_NAME, group1), Attr.u32(GenericNetlink.CTRL_ATTR_MCAST_GRP_ID, id1)));
        byte[] g2 = attrBytes(List.of(Attr.string(GenericNetlink.CTRL_ATTR_MCAST_GRP_NAME, group2), Attr.u32(GenericNetlink.CTRL_ATTR_MCAST_GRP_ID, id2)));
        byte[] groups = attrBytes(List.of(new Attr(1, g1), new Attr(2, g2)));
        return new NetlinkMessage(GenericNetlink.GENL_ID_CTRL, 0, 1, 0, 1, 2, List.of(
                Attr.u16(GenericNetlink.CTRL_ATTR_FAMILY_ID, id), Attr.string(GenericNetlink.CTRL_ATTR_FAMILY_NAME, family),
                new Attr(GenericNetlink.CTRL_ATTR_MCAST_GROUPS, groups))).encode();
    }

    /** Encoded attributes alone (the body of a nested attribute). */
    static byte[] attrBytes(List<Attr> attrs) {
        byte[] m = new NetlinkMessage(0, 0, 0, 0, 0, 0, attrs).encode();
        return java.util.Arrays.copyOfRange(m, NetlinkMessage.NLMSG_HDRLEN + NetlinkMessage.GENL_HDRLEN, m.length);
    }

    /** NLMSG_ERROR with {@code errno} (0 = ACK) and the request's header echoed. */
    static byte[] error(int seq, int errno) {
        ByteBuffer b = ByteBuffer.allocate(36).order(ByteOrder.nativeOrder());
        b.putInt(36).putShort((short) NetlinkMessage.NLMSG_ERROR).putShort((short) 0).putInt(seq).putInt(0);
        b.putInt(errno).putInt(16).putShort((short) 0x22).putShort((short) 1).putInt(seq).putInt(0);
        return b.array();
    }

    static byte[] done(int seq) {
        ByteBuffer b = ByteBuffer.allocate(20).order(ByteOrder.nativeOrder());
        b.putInt(20).putShort((short) NetlinkMessage.NLMSG_DONE).putShort((short) 2).putInt(seq).putInt(0).putInt(0);
        return b.array();
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }
}
