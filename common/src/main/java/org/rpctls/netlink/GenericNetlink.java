package org.rpctls.netlink;

import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Generic-netlink family resolution through the "nlctrl" family (CTRL_CMD_GETFAMILY). */
public final class GenericNetlink {
    private GenericNetlink() {}

    public static final int GENL_ID_CTRL = 0x10;
    public static final int CTRL_CMD_GETFAMILY = 3;
    public static final int CTRL_ATTR_FAMILY_ID = 1;
    public static final int CTRL_ATTR_FAMILY_NAME = 2;
    public static final int CTRL_ATTR_MCAST_GROUPS = 7;
    public static final int CTRL_ATTR_MCAST_GRP_NAME = 1;
    public static final int CTRL_ATTR_MCAST_GRP_ID = 2;

    /** A resolved family: its id and its multicast groups by name. */
    public record Family(String name, int id, Map<String, Integer> groups) {}

    public static Family resolve(NetlinkSocket socket, String name) throws IOException, MalformedNetlinkException {
        int seq = (int) (System.nanoTime() & 0x7fffffff);
        var request = new NetlinkMessage(GENL_ID_CTRL, NetlinkMessage.NLM_F_REQUEST, seq, 0, CTRL_CMD_GETFAMILY, 1,
                List.of(NetlinkMessage.Attr.string(CTRL_ATTR_FAMILY_NAME, name)));
        socket.send(request.encode());
        for (int packets = 0; packets < 64; packets++) {
            byte[] packet = socket.receive();
            if (packet == null) throw new IOException("netlink socket closed while resolving family " + name);
            for (NetlinkMessage m : NetlinkMessage.parseAll(packet)) {
                if (m.seq() != seq) continue;
                if (m.type() == NetlinkMessage.NLMSG_ERROR) {
                    int err = m.errorCode();
                    if (err == 0) continue;
                    throw new IOException("generic netlink family \"" + name + "\" not found: "
                            + org.rpctls.ffi.LibC.strerror(-err) + " (errno " + -err + ")");
                }
                if (m.type() != GENL_ID_CTRL) continue;
                int id = m.attr(CTRL_ATTR_FAMILY_ID).orElseThrow(() -> new MalformedNetlinkException("no CTRL_ATTR_FAMILY_ID")).u16();
                Map<String, Integer> groups = new HashMap<>();
                var mcast = m.attr(CTRL_ATTR_MCAST_GROUPS);
                if (mcast.isPresent()) {
                    for (var g : mcast.get().nested()) {
                        String gname = null;
                        Integer gid = null;
                        for (var a : g.nested()) {
                            if (a.type() == CTRL_ATTR_MCAST_GRP_NAME) gname = a.string();
                            if (a.type() == CTRL_ATTR_MCAST_GRP_ID) gid = a.u32();
                        }
                        if (gname != null && gid != null) groups.put(gname, gid);
                    }
                }
                return new Family(name, id, Map.copyOf(groups));
            }
        }
        throw new IOException("no answer resolving generic netlink family " + name);
    }
}
