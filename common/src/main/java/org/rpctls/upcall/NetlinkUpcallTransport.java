package org.rpctls.upcall;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.CompletionHandler;
import java.util.List;
import org.dcache.oncrpc4j.rpc.ReplyQueue;
import org.dcache.oncrpc4j.xdr.Xdr;
import org.rpctls.netlink.MalformedNetlinkException;
import org.rpctls.netlink.NetlinkMessage;
import org.rpctls.netlink.NetlinkSocket;
import org.rpctls.rpc.LocalRpcTransport;
import org.rpctls.rpc.RpcPrograms;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Version 2 (FreeBSD 15): the kernel multicasts each upcall as an RPCNL_REQUEST of the generic
 * netlink family "rpc" to the role's group ("tlsclnt" / "tlsserv"), the ONC RPC CALL (no record
 * mark) in RPCNL_REQUEST_BODY; the daemon answers with a unicast RPCNL_REPLY whose nlmsg_seq is
 * the xid (clnt_nl.c, svc_nl.c). Messages for other groups, families or commands are ignored,
 * as svc_nl does.
 */
public final class NetlinkUpcallTransport extends LocalRpcTransport implements UpcallTransport {
    private static final Logger LOG = LoggerFactory.getLogger("rpctls");

    public static final int RPCNL_REQUEST = 1;
    public static final int RPCNL_REPLY = 2;
    public static final int RPCNL_REQUEST_GROUP = 1;
    public static final int RPCNL_REQUEST_BODY = 2;
    public static final int RPCNL_REPLY_GROUP = 3;
    public static final int RPCNL_REPLY_BODY = 4;

    /** Opens a fresh socket to the same family (the emulator's bus, or AF_NETLINK); null: no reconnection. */
    public interface Reopener {
        NetlinkSocket open() throws IOException;
    }

    /**
     * Receive errors in a row after which the socket is taken for dead and reopened: a single
     * ENOBUFS or oversized packet is routine, an error on every read is not.
     */
    static final int ERRORS_BEFORE_REOPEN = 10;

    private volatile NetlinkSocket socket;
    private final Reopener reopener;
    private final int familyId;
    private final int groupId;
    private final String groupName;
    private volatile boolean closed;
    private Thread reader;

    public NetlinkUpcallTransport(NetlinkSocket socket, int familyId, int groupId, String groupName) {
        this(socket, null, familyId, groupId, groupName);
    }

    /**
     * @param reopener how to get a new socket when this one is closed under the daemon or keeps
     *                 failing; sessions live in the handler, so they survive the switch
     */
    public NetlinkUpcallTransport(NetlinkSocket socket, Reopener reopener, int familyId, int groupId, String groupName) {
        super(new ReplyQueue());
        this.socket = socket;
        this.reopener = reopener;
        this.familyId = familyId;
        this.groupId = groupId;
        this.groupName = groupName;
    }

    @Override
    public void start(RpcPrograms programs) throws IOException {
        socket.joinGroup(groupId);
        // A platform thread: it blocks in recv(2) for the life of the daemon.
        reader = Thread.ofPlatform().daemon().name("netlink " + groupName).start(() -> readLoop(programs));
    }

    private void readLoop(RpcPrograms programs) {
        int errorsInARow = 0;
        while (!closed) {
            byte[] packet;
            NetlinkSocket current = socket;
            try {
                packet = current.receive();
                errorsInARow = 0;
            } catch (IOException | RuntimeException e) {
                if (closed) return;
                // ENOBUFS after a burst, or an oversized packet: the kernel retries nothing, but later upcalls must get through
                LOG.error("netlink receive failed: {}; listening on", e.getMessage());
                if (++errorsInARow >= ERRORS_BEFORE_REOPEN && reopener != null) {
                    errorsInARow = 0;
                    if (!reopen(current, ERRORS_BEFORE_REOPEN + " receive errors in a row")) return;
                    continue;
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    return;
                }
                continue;
            }
            if (packet == null) {
                if (closed) return;
                if (reopener == null) {
                    LOG.error("netlink socket closed by the kernel side");
                    return;
                }
                // Fault found by FaultTest: the reader used to end here, and the daemon served no
                // upcall again until restarted. Sessions are in the handler's table, not in the
                // socket, so a new socket serves them as before.
                if (!reopen(current, "socket closed by the kernel side")) return;
                continue;
            }
            List<NetlinkMessage> messages;
            try {
                messages = NetlinkMessage.parseAll(packet);
            } catch (MalformedNetlinkException e) {
                LOG.info("netlink packet of {} bytes dropped: {}", packet.length, e.getMessage());
                continue;
            }
            for (NetlinkMessage m : messages) {
                byte[] body = requestBody(m);
                try {
                    if (body != null) programs.handle(body, this);
                } catch (RuntimeException e) {
                    LOG.error("upcall seq {} failed", Integer.toUnsignedString(m.seq()), e);
                }
            }
        }
    }

    /**
     * Replaces {@code dead} by a new socket that has joined the group, retrying (100 ms doubling
     * to 5 s) until it works or the transport is closed; one log line when it goes, one when it
     * is back. Calls in flight on the old socket are lost to the kernel's timeout, as they would
     * be with the real netlink socket gone.
     */
    private boolean reopen(NetlinkSocket dead, String why) {
        LOG.error("netlink {} for group \"{}\": reconnecting", why, groupName);
        dead.close();
        long backoff = 100;
        int attempts = 0;
        while (!closed) {
            attempts++;
            try {
                NetlinkSocket fresh = reopener.open();
                try {
                    fresh.joinGroup(groupId);
                } catch (IOException | RuntimeException e) {
                    fresh.close();
                    throw e;
                }
                socket = fresh;
                if (closed) {
                    fresh.close();
                    return false;
                }
                LOG.info("netlink group \"{}\" reconnected after {} attempt{}", groupName, attempts, attempts == 1 ? "" : "s");
                return true;
            } catch (IOException | RuntimeException e) {
                if (attempts == 1 || attempts % 20 == 0) LOG.error("netlink reconnect attempt {} failed: {}", attempts, e.getMessage());
            }
            try {
                Thread.sleep(backoff);
            } catch (InterruptedException ie) {
                return false;
            }
            backoff = Math.min(5000, backoff * 2);
        }
        return false;
    }

    /** The RPC CALL in an RPCNL_REQUEST for our group, or null for anything else. */
    byte[] requestBody(NetlinkMessage m) {
        if (m.type() != familyId || m.cmd() != RPCNL_REQUEST) return null;
        try {
            var group = m.attr(RPCNL_REQUEST_GROUP);
            if (group.isEmpty() || group.get().u32() != groupId) return null;
        } catch (MalformedNetlinkException e) {
            LOG.info("RPCNL_REQUEST dropped: {}", e.getMessage());
            return null;
        }
        var body = m.attr(RPCNL_REQUEST_BODY);
        if (body.isEmpty()) {
            LOG.info("RPCNL_REQUEST seq {} without a body dropped", Integer.toUnsignedString(m.seq()));
            return null;
        }
        return body.get().value();
    }

    /** The RPCNL_REPLY carrying an encoded RPC reply; nlmsg_seq is the reply's xid. */
    public static byte[] replyMessage(int familyId, int groupId, byte[] rpcReply) {
        int xid = ByteBuffer.wrap(rpcReply).getInt();
        return new NetlinkMessage(familyId, NetlinkMessage.NLM_F_REQUEST, xid, 0, RPCNL_REPLY, 0,
                List.of(NetlinkMessage.Attr.u32(RPCNL_REPLY_GROUP, groupId), new NetlinkMessage.Attr(RPCNL_REPLY_BODY, rpcReply))).encode();
    }

    @Override
    public <A> void send(Xdr xdr, A attachment, CompletionHandler<Integer, ? super A> handler) {
        ByteBuffer b = RpcPrograms.bytes(xdr);
        byte[] reply = new byte[b.remaining()];
        b.get(reply);
        try {
            socket.send(replyMessage(familyId, groupId, reply));
        } catch (IOException e) {
            sendOutcome(true);
            handler.failed(e, attachment);
            return;
        }
        sendOutcome(false);
        handler.completed(reply.length, attachment);
    }

    @Override
    public String describe() {
        return "netlink family \"rpc\" (id " + familyId + ") group \"" + groupName + "\" (id " + groupId + ")";
    }

    @Override
    public void close() {
        closed = true;
        socket.close();
        if (reader != null) {
            try {
                reader.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        getReplyQueue().shutdown();
    }

    @Override
    public boolean isOpen() {
        return !closed;
    }
}
