package org.rpctls.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * One generic-netlink message: nlmsghdr + genlmsghdr + attributes, in host byte order, as both
 * Linux and FreeBSD frame them. Parsing is strict: every length is checked against what is
 * there, and anything inconsistent is a {@link MalformedNetlinkException}, never an index error.
 *
 * @param type    nlmsg_type (the family id, or NLMSG_ERROR / NLMSG_DONE)
 * @param flags   nlmsg_flags
 * @param seq     nlmsg_seq
 * @param pid     nlmsg_pid (port id)
 * @param cmd     genlmsghdr.cmd
 * @param version genlmsghdr.version
 * @param attrs   the top-level attributes, in order
 */
public record NetlinkMessage(int type, int flags, int seq, int pid, int cmd, int version, List<Attr> attrs) {
    public static final int NLMSG_HDRLEN = 16;
    public static final int GENL_HDRLEN = 4;
    public static final int NLA_HDRLEN = 4;
    public static final int NLMSG_ERROR = 2;
    public static final int NLMSG_DONE = 3;
    public static final int NLM_F_REQUEST = 0x1;
    public static final int NLM_F_MULTI = 0x2;
    public static final int NLM_F_ACK = 0x4;
    /** nla_type bits that are flags, not part of the type. */
    public static final int NLA_TYPE_MASK = 0x3fff;

    static final ByteOrder ORDER = ByteOrder.nativeOrder();

    /** One attribute; nested attributes are parsed on demand with {@link #nested()}. */
    public record Attr(int type, byte[] value) {
        public int u32() throws MalformedNetlinkException {
            if (value.length < 4) throw new MalformedNetlinkException("attribute " + type + ": " + value.length + " bytes, u32 expected");
            return ByteBuffer.wrap(value).order(ORDER).getInt();
        }

        public int u16() throws MalformedNetlinkException {
            if (value.length < 2) throw new MalformedNetlinkException("attribute " + type + ": " + value.length + " bytes, u16 expected");
            return Short.toUnsignedInt(ByteBuffer.wrap(value).order(ORDER).getShort());
        }

        public long u64() throws MalformedNetlinkException {
            if (value.length < 8) throw new MalformedNetlinkException("attribute " + type + ": " + value.length + " bytes, u64 expected");
            return ByteBuffer.wrap(value).order(ORDER).getLong();
        }

        /** A NUL-terminated (or unterminated) string attribute. */
        public String string() {
            int n = 0;
            while (n < value.length && value[n] != 0) n++;
            return new String(value, 0, n, java.nio.charset.StandardCharsets.UTF_8);
        }

        public List<Attr> nested() throws MalformedNetlinkException {
            return parseAttrs(ByteBuffer.wrap(value).order(ORDER), value.length);
        }

        public static Attr u32(int type, int v) {
            return new Attr(type, ByteBuffer.allocate(4).order(ORDER).putInt(v).array());
        }

        public static Attr u16(int type, int v) {
            return new Attr(type, ByteBuffer.allocate(2).order(ORDER).putShort((short) v).array());
        }

        public static Attr string(int type, String s) {
            byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            return new Attr(type, Arrays.copyOf(b, b.length + 1));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Attr a && a.type == type && Arrays.equals(a.value, value);
        }

        @Override
        public int hashCode() {
            return type * 31 + Arrays.hashCode(value);
        }

        @Override
        public String toString() {
            return "Attr[" + type + ", " + value.length + " bytes]";
        }
    }

    public Optional<Attr> attr(int attrType) {
        for (Attr a : attrs) if (a.type() == attrType) return Optional.of(a);
        return Optional.empty();
    }

    /** The encoded message, nlmsg_len filled in. */
    public byte[] encode() {
        int len = NLMSG_HDRLEN + GENL_HDRLEN;
        for (Attr a : attrs) len += align(NLA_HDRLEN + a.value().length);
        ByteBuffer b = ByteBuffer.allocate(len).order(ORDER);
        b.putInt(len).putShort((short) type).putShort((short) flags).putInt(seq).putInt(pid);
        b.put((byte) cmd).put((byte) version).putShort((short) 0);
        for (Attr a : attrs) {
            if (NLA_HDRLEN + a.value().length > 0xffff) throw new IllegalArgumentException("attribute " + a.type() + " too long");
            b.putShort((short) (NLA_HDRLEN + a.value().length)).putShort((short) a.type()).put(a.value());
            b.position(align(b.position()));
        }
        return b.array();
    }

    static int align(int n) {
        return (n + 3) & ~3;
    }

    /**
     * Parses every message in one received packet. NLMSG_ERROR messages come back as messages
     * of that type with the error code as {@code cmd}-less payload in attribute 0 (see {@link #errorCode}).
     */
    public static List<NetlinkMessage> parseAll(byte[] packet) throws MalformedNetlinkException {
        List<NetlinkMessage> out = new ArrayList<>();
        ByteBuffer b = ByteBuffer.wrap(packet).order(ORDER);
        while (b.remaining() >= NLMSG_HDRLEN) {
            int start = b.position();
            long len = Integer.toUnsignedLong(b.getInt());
            if (len < NLMSG_HDRLEN || len > b.remaining() + 4L) {
                throw new MalformedNetlinkException("nlmsg_len " + len + " with " + (b.remaining() + 4) + " bytes left");
            }
            int type = Short.toUnsignedInt(b.getShort());
            int flags = Short.toUnsignedInt(b.getShort());
            int seq = b.getInt();
            int pid = b.getInt();
            int bodyLen = (int) len - NLMSG_HDRLEN;
            if (type == NLMSG_ERROR || type == NLMSG_DONE) {
                byte[] body = new byte[bodyLen];
                b.get(body);
                out.add(new NetlinkMessage(type, flags, seq, pid, 0, 0, List.of(new Attr(0, body))));
            } else {
                if (bodyLen < GENL_HDRLEN) throw new MalformedNetlinkException("message of " + len + " bytes has no genlmsghdr");
                int cmd = Byte.toUnsignedInt(b.get());
                int version = Byte.toUnsignedInt(b.get());
                b.getShort();
                int attrLen = bodyLen - GENL_HDRLEN;
                ByteBuffer attrs = b.slice(b.position(), attrLen).order(ORDER);
                out.add(new NetlinkMessage(type, flags, seq, pid, cmd, version, parseAttrs(attrs, attrLen)));
            }
            int next = start + align((int) len);
            if (next > packet.length) next = packet.length;
            b.position(next);
        }
        if (b.hasRemaining()) throw new MalformedNetlinkException(b.remaining() + " trailing bytes after the last message");
        return out;
    }

    static List<Attr> parseAttrs(ByteBuffer b, int length) throws MalformedNetlinkException {
        List<Attr> out = new ArrayList<>();
        int end = b.position() + length;
        while (end - b.position() >= NLA_HDRLEN) {
            int start = b.position();
            int len = Short.toUnsignedInt(b.getShort());
            int type = Short.toUnsignedInt(b.getShort()) & NLA_TYPE_MASK;
            if (len < NLA_HDRLEN || start + len > end) {
                throw new MalformedNetlinkException("attribute " + type + " length " + len + " with " + (end - start) + " bytes left");
            }
            byte[] value = new byte[len - NLA_HDRLEN];
            b.get(value);
            out.add(new Attr(type, value));
            b.position(Math.min(end, start + align(len)));
        }
        if (b.position() != end) throw new MalformedNetlinkException((end - b.position()) + " stray bytes after the attributes");
        return out;
    }

    /** For an NLMSG_ERROR message: the (negative) errno, 0 for an ACK. */
    public int errorCode() throws MalformedNetlinkException {
        if (type != NLMSG_ERROR) throw new IllegalStateException("not an NLMSG_ERROR message");
        byte[] body = attrs.get(0).value();
        if (body.length < 4) throw new MalformedNetlinkException("NLMSG_ERROR without an error code");
        return ByteBuffer.wrap(body).order(ORDER).getInt();
    }
}
