package org.rpctls.emulator;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.CompletionHandler;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.dcache.oncrpc4j.rpc.ReplyQueue;
import org.dcache.oncrpc4j.rpc.RpcTransport;
import org.dcache.oncrpc4j.xdr.Xdr;
import org.dcache.oncrpc4j.xdr.XdrAble;
import org.rpctls.ffi.LibC;
import org.rpctls.netlink.MalformedNetlinkException;
import org.rpctls.netlink.NetlinkMessage;
import org.rpctls.netlink.SeqpacketSocket;
import org.rpctls.rpc.LocalRpcTransport;
import org.rpctls.rpc.RpcPrograms;
import org.rpctls.rpc.XdrReader;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.UnixSockets;
import org.rpctls.upcall.NetlinkUpcallTransport;

/**
 * Version 2 (FreeBSD 15): the kernel's generic-netlink family "rpc" (id 0x20), emulated on
 * DIR/rpcnl.sock (AF_UNIX SOCK_SEQPACKET, one netlink message per packet). Requests are sent to
 * every connected daemon, as multicast to a group would be; each daemon keeps its own group's.
 * Replies are matched by group and by nlmsg_seq == xid (clnt_nl.c).
 */
final class NetlinkBus implements AutoCloseable {
    static final int FAMILY = 0x20;

    private final SocketFd listener;
    private final List<SeqpacketSocket> daemons = new CopyOnWriteArrayList<>();
    private final ReplyQueue replyQueue;
    private final AtomicBoolean rawMode = new AtomicBoolean();
    private final BlockingQueue<byte[]> rawAnswers = new LinkedBlockingQueue<>();
    private final RpcPrograms replies = new RpcPrograms();
    private volatile boolean closed;

    NetlinkBus(Path path, ReplyQueue replyQueue) throws IOException {
        this.replyQueue = replyQueue;
        listener = UnixSockets.listen(path, LibC.SOCK_SEQPACKET, 16);
        org.rpctls.sys.Sockets.setNonBlocking(listener.fd(), false);
        Thread.ofPlatform().daemon().name("emulator netlink accept").start(this::acceptLoop);
    }

    int connectedDaemons() {
        return daemons.size();
    }

    /**
     * Fault injection: the bus drops every daemon's connection, as if the family's sockets were
     * torn down under the daemons. Calls in flight get no reply (the caller's timeout). Returns
     * how many connections were dropped.
     */
    int dropDaemons() {
        int n = 0;
        for (SeqpacketSocket d : daemons) {
            if (daemons.remove(d)) {
                d.close();
                n++;
            }
        }
        return n;
    }

    private void acceptLoop() {
        while (!closed) {
            int c = LibC.accept(listener.fd(), java.lang.foreign.MemorySegment.NULL, java.lang.foreign.MemorySegment.NULL);
            if (c < 0) {
                if (closed) return;
                continue;
            }
            SeqpacketSocket s = SeqpacketSocket.adopt(SocketFd.adopt(c));
            daemons.add(s);
            Thread.ofPlatform().daemon().name("emulator netlink read").start(() -> readLoop(s));
        }
    }

    private void readLoop(SeqpacketSocket s) {
        try {
            while (!closed) {
                byte[] packet = s.receive();
                if (packet == null) break;
                if (rawMode.get()) {
                    rawAnswers.add(packet);
                    continue;
                }
                for (NetlinkMessage m : NetlinkMessage.parseAll(packet)) {
                    if (m.type() != FAMILY || m.cmd() != NetlinkUpcallTransport.RPCNL_REPLY) continue;
                    var body = m.attr(NetlinkUpcallTransport.RPCNL_REPLY_BODY);
                    var group = m.attr(NetlinkUpcallTransport.RPCNL_REPLY_GROUP);
                    if (body.isEmpty() || group.isEmpty()) continue;
                    if (body.get().value().length < 4 || ByteBuffer.wrap(body.get().value()).getInt() != m.seq()) continue; // seq must be the xid
                    replies.handle(body.get().value(), transport(group.get().u32()));
                }
            }
        } catch (IOException | MalformedNetlinkException e) {
            // the daemon went away or sent garbage: the kernel drops it
        } finally {
            daemons.remove(s);
            s.close();
        }
    }

    /** The RPC transport of one group: calls become RPCNL_REQUEST multicasts. */
    RpcTransport transport(int group) {
        return new LocalRpcTransport(replyQueue) {
            @Override
            public <A> void send(Xdr xdr, A attachment, CompletionHandler<Integer, ? super A> handler) {
                ByteBuffer b = RpcPrograms.bytes(xdr);
                byte[] call = new byte[b.remaining()];
                b.get(call);
                int xid = ByteBuffer.wrap(call).getInt();
                byte[] packet = new NetlinkMessage(FAMILY, 0, xid, 0, NetlinkUpcallTransport.RPCNL_REQUEST, 0,
                        List.of(NetlinkMessage.Attr.u32(NetlinkUpcallTransport.RPCNL_REQUEST_GROUP, group),
                                new NetlinkMessage.Attr(NetlinkUpcallTransport.RPCNL_REQUEST_BODY, call))).encode();
                multicast(packet);
                handler.completed(call.length, attachment); // no daemon listening: the call simply times out, as in the kernel
            }

            @Override
            public boolean isOpen() {
                return !closed;
            }
        };
    }

    void multicast(byte[] packet) {
        for (SeqpacketSocket d : daemons) {
            try {
                d.send(packet);
            } catch (IOException e) {
                // that daemon is gone; its reader removes it
            }
        }
    }

    /** One role's side: calls for {@code group} with program {@code prog}, version 2. */
    KernelSide side(int prog, int group, long timeoutMillis) {
        return new KernelSide() {
            @Override
            public <T> T call(int proc, XdrAble args, XdrReader.Decoder<T> result) throws IOException, TimeoutException, InterruptedException {
                return Calls.call(transport(group), prog, org.rpctls.rpc.Rpctls.VERSION_2, proc, args, result, timeoutMillis);
            }

            @Override
            public byte[] raw(byte[] message, long waitMillis) throws InterruptedException {
                rawAnswers.clear();
                rawMode.set(true);
                try {
                    multicast(message);
                    return rawAnswers.poll(waitMillis, TimeUnit.MILLISECONDS);
                } finally {
                    rawMode.set(false);
                }
            }

            @Override
            public void close() {
                // the bus is shared; closed with the emulator
            }
        };
    }

    @Override
    public void close() {
        closed = true;
        LibC.shutdown(listener.fd(), LibC.SHUT_RDWR);
        listener.close();
        for (SeqpacketSocket d : daemons) d.close();
    }
}
