package org.rpctls.upcall;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ch.qos.logback.classic.Level;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.CompletionHandler;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.dcache.oncrpc4j.rpc.ReplyQueue;
import org.dcache.oncrpc4j.xdr.Xdr;
import org.rpctls.netlink.MalformedNetlinkException;
import org.rpctls.netlink.NetlinkMessage;
import org.rpctls.netlink.NetlinkSocket;
import org.rpctls.rpc.LocalRpcTransport;
import org.rpctls.rpc.RpcPrograms;
import org.rpctls.rpc.RecordMarking;
import org.rpctls.rpc.Rpctls;
import org.rpctls.rpc.StreamRpcTransport;
import org.rpctls.tls.HostCheck;
import org.rpctls.tls.Role;
import org.slf4j.LoggerFactory;

/**
 * The kernel-to-daemon upcall path of both FreeBSD generations, from the first received byte
 * to the reply, with the daemons' real RPC programs (RpctlscdProgram, RpctlssdProgram) and
 * oncrpc4j's call-header decoding (RpcPrograms -> RpcCall.accept -> retrieveCall).
 *
 * <p>Contract: nothing throws out of the paths the daemon's read loops run, and no call is
 * answered SYSTEM_ERR: a decoder that throws anything but an IOException makes RpcPrograms
 * answer SYSTEM_ERR (and log an error), so that reply marks a decoder bug. Garbage is answered
 * GARBAGE_ARGS / PROG_UNAVAIL / ... or dropped, which is fine.
 *
 * <p>The handler behind the programs is the real UpcallHandler with no sockets to claim and no
 * sessions: CONNECT fails with NOSOCKET, HANDLERECORD/DISCONNECT find no session. That is the
 * handler's side, not what is fuzzed here.
 */
class UpcallFuzzTest {
    static final int SYSTEM_ERR = 5;
    static final ConcurrentLinkedQueue<String> BAD_REPLIES = new ConcurrentLinkedQueue<>();

    static {
        // Every garbage input is logged by the daemon's code: silence it so the fuzzer runs at speed.
        ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger("rpctls")).setLevel(Level.OFF);
        ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger("rpctls.rpc")).setLevel(Level.OFF);
        ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger("org.dcache")).setLevel(Level.OFF);
    }

    /** The four daemon configurations: (client, server) x (version 1, version 2), as Daemon registers them. */
    static final List<RpcPrograms> DAEMONS = daemons();

    static List<RpcPrograms> daemons() {
        List<RpcPrograms> out = new ArrayList<>();
        for (Role role : Role.values()) {
            for (int version : new int[] {Rpctls.VERSION_1, Rpctls.VERSION_2}) {
                var config = new UpcallHandler.Config(role, true, false, HostCheck.NONE, false, false, Duration.ofSeconds(1), 1);
                SocketSource noSockets = cookie -> {
                    throw new IOException("fuzzing: no socket");
                };
                var handler = new UpcallHandler(config, null, noSockets, new SessionTable(1, 2));
                var programs = new RpcPrograms();
                if (role == Role.CLIENT) programs.register(Rpctls.RPCTLSCD, version, new RpctlscdProgram(handler, version));
                else programs.register(Rpctls.RPCTLSSD, version, new RpctlssdProgram(handler, version));
                out.add(programs);
            }
        }
        return out;
    }

    /** Checks one encoded RPC reply: it must not be MSG_ACCEPTED with SYSTEM_ERR. */
    static void checkReply(byte[] reply) {
        ByteBuffer b = ByteBuffer.wrap(reply);
        if (b.remaining() < 12) {
            BAD_REPLIES.add("reply of " + reply.length + " bytes");
            return;
        }
        b.getInt(); // xid
        int type = b.getInt();
        int stat = b.getInt();
        if (type != 1) BAD_REPLIES.add("reply of type " + type);
        if (stat != 0) return; // MSG_DENIED: RPC_MISMATCH or AUTH_ERROR, both fine for garbage
        b.getInt(); // verifier flavor
        int verfLen = b.getInt();
        b.position(b.position() + ((verfLen + 3) & ~3));
        int acceptStat = b.getInt();
        if (acceptStat == SYSTEM_ERR) BAD_REPLIES.add("SYSTEM_ERR reply: a decoder threw an unchecked exception");
    }

    static void assertNoBadReply() {
        String bad = BAD_REPLIES.poll();
        if (bad != null) {
            BAD_REPLIES.clear();
            fail(bad);
        }
    }

    /** Captures what the daemon sends back. */
    static final class CapturingTransport extends LocalRpcTransport {
        CapturingTransport() {
            super(new ReplyQueue());
        }

        @Override
        public <A> void send(Xdr xdr, A attachment, CompletionHandler<Integer, ? super A> handler) {
            ByteBuffer b = RpcPrograms.bytes(xdr);
            byte[] reply = new byte[b.remaining()];
            b.get(reply);
            checkReply(reply);
            handler.completed(reply.length, attachment);
        }

        @Override
        public boolean isOpen() {
            return true;
        }
    }

    static final CapturingTransport TRANSPORT = new CapturingTransport();

    private static int inputs;

    /**
     * Lets the upcall threads of earlier inputs run. The programs answer CONNECT, HANDLERECORD
     * and DISCONNECT on a virtual thread each (Async); the fuzzer makes tens of thousands of calls
     * a second, far faster than a kernel, so without a pause their queue grows without bound.
     * Joining a fresh virtual thread every 64 inputs waits until the scheduler has reached the
     * work queued before it.
     */
    static void drainUpcallThreads() {
        if (++inputs % 64 != 0) return;
        try {
            Thread.ofVirtual().start(() -> {}).join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One RPC message as the record-marking or netlink framing delivers it: header, then the procedure's arguments. */
    @FuzzTest(maxDuration = "30s")
    void rpcMessage(byte[] message) {
        // a copy each: oncrpc4j encodes a reply into the call's own buffer (RpcCall.reply), and
        // the upcall threads reply while the next daemon would still be decoding a shared array
        for (RpcPrograms daemon : DAEMONS) daemon.handle(message.clone(), TRANSPORT);
        drainUpcallThreads();
        assertNoBadReply();
    }

    // ------------------------------------------------------------------ version 1: AF_LOCAL stream

    static ServerSocketChannel listener;

    static synchronized ServerSocketChannel listener() throws IOException {
        if (listener == null) {
            Path dir = Files.createTempDirectory("rpctls-fuzz");
            Path sock = dir.resolve("upcall.sock");
            listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            listener.bind(UnixDomainSocketAddress.of(sock));
            dir.toFile().deleteOnExit();
            sock.toFile().deleteOnExit();
        }
        return listener;
    }

    /**
     * The bytes the kernel writes on a version-1 AF_LOCAL connection, served by the daemon's real
     * StreamRpcTransport (record marking, then each record to the RPC programs) until the
     * stream ends. serve() must return a reason (never throw).
     */
    @FuzzTest(maxDuration = "30s")
    void localStream(byte[] stream) throws IOException {
        serveStream(stream, DAEMONS.get(0)); // rpc.tlsclntd, version 1
        serveStream(stream, DAEMONS.get(2)); // rpc.tlsservd, version 1
        drainUpcallThreads();
        assertNoBadReply();
    }

    static void serveStream(byte[] stream, RpcPrograms daemon) throws IOException {
        ServerSocketChannel server = listener();
        try (SocketChannel kernel = SocketChannel.open(server.getLocalAddress())) {
            try (SocketChannel accepted = server.accept()) {
                kernel.write(ByteBuffer.wrap(stream)); // at most 4 KiB: fits the socket buffer
                kernel.shutdownOutput();
                String why = new StreamRpcTransport(accepted, new ReplyQueue()).serve(daemon, LocalUpcallTransport.MAX_RECORD);
                assertTrue(why != null, "serve() returned no reason");
                // serve() stops at a framing error with input unread; closing then would reset the
                // connection and lose the replies this test checks, so read the rest first
                ByteBuffer rest = ByteBuffer.allocate(4096);
                while (accepted.read(rest.clear()) >= 0) {
                    // discard
                }
            }
            // what the daemon answered (replies of handler threads still running may be cut off: they come from the handler)
            while (true) {
                byte[] reply;
                try {
                    reply = RecordMarking.read(kernel, LocalUpcallTransport.MAX_RECORD);
                } catch (EOFException cutOff) {
                    break;
                }
                if (reply == null) break;
                checkReply(reply);
            }
        }
    }

    // ------------------------------------------------------------------ version 2: netlink family "rpc"

    static final int FAMILY = 0x1d;
    static final int GROUP = 3;

    /** A netlink socket that only records what the daemon sends (RPCNL_REPLY messages). */
    static final class CapturingNetlink implements NetlinkSocket {
        @Override
        public byte[] receive() {
            return null;
        }

        @Override
        public void send(byte[] packet) {
            try {
                List<NetlinkMessage> sent = NetlinkMessage.parseAll(packet);
                if (sent.size() != 1) BAD_REPLIES.add(sent.size() + " messages in one reply packet");
                var body = sent.get(0).attr(NetlinkUpcallTransport.RPCNL_REPLY_BODY);
                if (body.isEmpty()) BAD_REPLIES.add("RPCNL_REPLY without a body");
                else checkReply(body.get().value());
            } catch (MalformedNetlinkException e) {
                BAD_REPLIES.add("daemon sent a malformed netlink packet: " + e.getMessage());
            }
        }

        @Override
        public void joinGroup(int group) {}

        @Override
        public void close() {}
    }

    static final NetlinkUpcallTransport NETLINK = new NetlinkUpcallTransport(new CapturingNetlink(), FAMILY, GROUP, "tlsclnt");

    /**
     * One packet received on the FreeBSD 15 netlink socket, through the body of
     * NetlinkUpcallTransport's read loop (parseAll, requestBody, RpcPrograms.handle) for a client
     * and a server daemon of version 2. Only MalformedNetlinkException may come out of parsing.
     */
    @FuzzTest(maxDuration = "30s")
    void netlinkPacket(byte[] packet) {
        List<NetlinkMessage> messages;
        try {
            messages = NetlinkMessage.parseAll(packet);
        } catch (MalformedNetlinkException e) {
            return; // the read loop logs and drops the packet
        }
        for (NetlinkMessage m : messages) {
            byte[] body = NETLINK.requestBody(m);
            if (body == null) continue;
            DAEMONS.get(1).handle(body.clone(), NETLINK); // client, version 2 (a copy each: see rpcMessage)
            DAEMONS.get(3).handle(body.clone(), NETLINK); // server, version 2
        }
        drainUpcallThreads();
        assertNoBadReply();
    }
}
