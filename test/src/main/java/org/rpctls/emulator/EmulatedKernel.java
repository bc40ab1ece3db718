package org.rpctls.emulator;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.dcache.oncrpc4j.rpc.ReplyQueue;
import org.dcache.oncrpc4j.xdr.XdrAble;
import org.dcache.oncrpc4j.xdr.XdrVoid;
import org.rpctls.ffi.LibC;
import org.rpctls.rpc.Rpctls;
import org.rpctls.rpc.RpctlscdV1;
import org.rpctls.rpc.RpctlscdV2;
import org.rpctls.rpc.RpctlssdV1;
import org.rpctls.rpc.RpctlssdV2;
import org.rpctls.rpc.XdrReader;
import org.rpctls.sys.SocketFd;
import org.rpctls.tls.Role;

/**
 * An emulated FreeBSD kernel for rpc.tlsclntd / rpc.tlsservd started with
 * {@code --emulated-kernel=DIR}: the kernel's RPC client side of the upcall programs, in either
 * generation, and the socket hand-over that rpctls_syscall does.
 *
 * <ul>
 * <li>version 1 (13/14): connects to DIR/rpc.tls{clnt,serv}d.sock, ONC RPC with record marking;
 *     upcalls are serialised and the daemon claims "the socket pending for the current upcall";
 * <li>version 2 (15): DIR/rpcnl.sock carries netlink messages; each upcall has a socket cookie;
 * <li>every call is AUTH_NONE, tried once, with the kernel's 15 s timeout; after a failed call
 *     the socket is closed if the daemon never took it and shut down for reading if it did
 *     (rpctls_rpc_failed);
 * <li>rpctls_syscall: the daemon takes the socket from the claim table DIR/broker.tab with one
 *     pidfd_getfd(2), or through the broker DIR/broker.sock ({@link Handover}).
 * </ul>
 * The TCP sockets stay owned by the caller, as the kernel keeps its own reference.
 */
public final class EmulatedKernel implements AutoCloseable {
    public static final long UPCALL_TIMEOUT_MILLIS = 15_000;

    private final Path dir;
    private final int version;
    private final long timeoutMillis;
    private final ReplyQueue replyQueue = new ReplyQueue();
    private final SocketBroker broker;
    private final Handover handover;
    private final NetlinkBus bus;
    private final LocalKernelSide localClient;
    private final LocalKernelSide localServer;
    private final ReentrantLock v1Busy = new ReentrantLock(true);
    private final AtomicLong nextCookie = new AtomicLong(0xfffff80012340000L);

    /** How the kernel refers to a daemon's session. */
    public sealed interface SessionRef {
        record Triple(long sec, long usec, long refno) implements SessionRef {}

        record Cookie(long socookie) implements SessionRef {}
    }

    public record ClientResult(int reterr, SessionRef ref) {}

    /** A server CONNECT: {@code replied} is false when the daemon sent no reply before the timeout. */
    public record ServerResult(boolean replied, int flags, int uid, int[] gids, SessionRef ref) {}

    /**
     * How a daemon takes an upcall's socket (rpctls_syscall). FreeBSD does it in one system call;
     * {@link #TABLE} does too (a CAS in the shared DIR/broker.tab and one pidfd_getfd(2)), so that
     * benchmarks measure the daemon, not the emulator. {@link #BROKER} publishes no table: every
     * claim goes through the Unix-socket broker DIR/broker.sock (connect, sendmsg, recvmsg, a
     * thread in the emulator), the path of daemons that cannot use pidfd_getfd, kept tested so.
     */
    public enum Handover {
        TABLE, BROKER;

        /**
         * The default: RPCTLS_EMULATOR_HANDOVER or -Drpctls.emulator.handover ("table" or
         * "broker"), else TABLE.
         */
        public static Handover fromEnvironment() {
            String v = System.getProperty("rpctls.emulator.handover", System.getenv("RPCTLS_EMULATOR_HANDOVER"));
            if (v == null || v.isEmpty()) return TABLE;
            return switch (v) {
                case "table" -> TABLE;
                case "broker" -> BROKER;
                default -> throw new IllegalArgumentException("RPCTLS_EMULATOR_HANDOVER / rpctls.emulator.handover: table or broker, not " + v);
            };
        }
    }

    public EmulatedKernel(Path dir, int version) throws IOException {
        this(dir, version, UPCALL_TIMEOUT_MILLIS);
    }

    public EmulatedKernel(Path dir, int version, long timeoutMillis) throws IOException {
        this(dir, version, timeoutMillis, Handover.fromEnvironment());
    }

    public EmulatedKernel(Path dir, int version, long timeoutMillis, Handover handover) throws IOException {
        this.dir = Files.createDirectories(dir);
        this.version = version;
        this.timeoutMillis = timeoutMillis;
        this.handover = handover;
        this.broker = new SocketBroker(dir, handover == Handover.TABLE);
        if (version == Rpctls.VERSION_2) {
            bus = new NetlinkBus(dir.resolve("rpcnl.sock"), replyQueue);
            localClient = null;
            localServer = null;
        } else {
            bus = null;
            localClient = new LocalKernelSide(dir.resolve("rpc.tlsclntd.sock"), Rpctls.RPCTLSCD, timeoutMillis);
            localServer = new LocalKernelSide(dir.resolve("rpc.tlsservd.sock"), Rpctls.RPCTLSSD, timeoutMillis);
        }
    }

    public Path dir() {
        return dir;
    }

    public int version() {
        return version;
    }

    public Handover handover() {
        return handover;
    }

    /** How many sockets daemons have claimed so far (from the table or through the broker). */
    public int claims() {
        return broker.claims();
    }

    KernelSide side(Role role) {
        int prog = role == Role.CLIENT ? Rpctls.RPCTLSCD : Rpctls.RPCTLSSD;
        if (version == Rpctls.VERSION_2) return bus.side(prog, role == Role.CLIENT ? 1 : 2, timeoutMillis);
        return role == Role.CLIENT ? localClient : localServer;
    }

    /** Waits until the daemon of {@code role} can be reached (v1: its socket accepts; v2: it joined the bus). */
    public void awaitDaemon(Role role, int v2Connections, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            if (version == Rpctls.VERSION_2) {
                if (bus.connectedDaemons() >= v2Connections) return;
            } else {
                Path p = dir.resolve(role == Role.CLIENT ? "rpc.tlsclntd.sock" : "rpc.tlsservd.sock");
                if (Files.exists(p)) {
                    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                        ch.connect(UnixDomainSocketAddress.of(p));
                        return;
                    } catch (IOException e) {
                        // not yet listening
                    }
                }
            }
            Thread.sleep(20);
        }
        throw new IllegalStateException("daemon for " + role + " not reachable in " + dir + " within " + timeout);
    }

    // ---------------------------------------------------------------- fault injection

    /**
     * The upcall channel of {@code role} drops. Version 1: the kernel closes its AF_LOCAL
     * connection to the daemon (the next call reconnects, as clnt_reconnect does). Version 2: the
     * bus closes every daemon's netlink connection (both roles); a daemon must reconnect to be
     * reachable again. Returns how many connections were closed.
     */
    public int dropUpcallChannel(Role role) {
        if (version == Rpctls.VERSION_2) return bus.dropDaemons();
        return (role == Role.CLIENT ? localClient : localServer).drop() ? 1 : 0;
    }

    /** Version 2: how many daemons are connected to the bus now. */
    public int connectedDaemons() {
        return version == Rpctls.VERSION_2 ? bus.connectedDaemons() : -1;
    }

    // ---------------------------------------------------------------- the four procedures

    public void nullCall(Role role) throws IOException, TimeoutException, InterruptedException {
        side(role).call(Rpctls.NULLPROC, XdrVoid.XDR_VOID, x -> null);
    }

    /** The client-side CONNECT upcall for TCP socket {@code tcp}, with tlscertname {@code certname} (or ""). */
    public ClientResult clientConnect(SocketFd tcp, String certname) throws IOException, InterruptedException {
        byte[] name = certname.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        if (version == Rpctls.VERSION_1) {
            v1Busy.lock();
            try {
                broker.offer(0, tcp);
                try {
                    var r = side(Role.CLIENT).call(Rpctls.CONNECT, new RpctlscdV1.ConnectArg(name), RpctlscdV1.ConnectRes::decode);
                    if (r.reterr() != Rpctls.RPCTLSERR_OK) dropped(tcp);
                    return new ClientResult(r.reterr(), new SessionRef.Triple(r.sec(), r.usec(), r.ssl()));
                } catch (TimeoutException | java.io.EOFException e) {
                    // EOF: the RPC connection closed during the call (clnt_reconnect's RPC_CANTRECV); the same cleanup
                    failed(0, tcp);
                    return new ClientResult(-1, null);
                } finally {
                    broker.withdraw(0);
                }
            } finally {
                v1Busy.unlock();
            }
        }
        long cookie = nextCookie.addAndGet(0x100);
        broker.offer(cookie, tcp);
        try {
            var r = side(Role.CLIENT).call(Rpctls.CONNECT, new RpctlscdV2.ConnectArg(cookie, name), RpctlscdV2.ConnectRes::decode);
            broker.withdraw(cookie);
            if (r.reterr() != Rpctls.RPCTLSERR_OK) dropped(tcp);
            return new ClientResult(r.reterr(), new SessionRef.Cookie(cookie));
        } catch (TimeoutException e) {
            failed(cookie, tcp);
            return new ClientResult(-1, null);
        } finally {
            broker.withdraw(cookie); // after an IOException too: the offer holds a descriptor
        }
    }

    /** The server-side CONNECT upcall for TCP socket {@code tcp}. */
    public ServerResult serverConnect(SocketFd tcp) throws IOException, InterruptedException {
        if (version == Rpctls.VERSION_1) {
            v1Busy.lock();
            try {
                broker.offer(0, tcp);
                try {
                    var r = side(Role.SERVER).call(Rpctls.CONNECT, XdrVoid.XDR_VOID, RpctlssdV1.ConnectRes::decode);
                    if ((r.flags() & RPCTLS_FLAGS_HANDSHAKE) == 0) dropped(tcp);
                    return new ServerResult(true, r.flags(), r.uid(), r.gid(), new SessionRef.Triple(r.sec(), r.usec(), r.ssl()));
                } catch (TimeoutException | java.io.EOFException e) {
                    // EOF: the RPC connection closed during the call (clnt_reconnect's RPC_CANTRECV); the same cleanup
                    failed(0, tcp);
                    return new ServerResult(false, 0, 0, new int[0], null);
                } finally {
                    broker.withdraw(0);
                }
            } finally {
                v1Busy.unlock();
            }
        }
        long cookie = nextCookie.addAndGet(0x100);
        broker.offer(cookie, tcp);
        try {
            var r = side(Role.SERVER).call(Rpctls.CONNECT, new RpctlssdV2.ConnectArg(cookie), RpctlssdV2.ConnectRes::decode);
            broker.withdraw(cookie);
            if ((r.flags() & RPCTLS_FLAGS_HANDSHAKE) == 0) dropped(tcp);
            return new ServerResult(true, r.flags(), r.uid(), r.gid(), new SessionRef.Cookie(cookie));
        } catch (TimeoutException e) {
            failed(cookie, tcp);
            return new ServerResult(false, 0, 0, new int[0], null);
        } finally {
            broker.withdraw(cookie); // after an IOException too: the offer holds a descriptor
        }
    }

    private static final int RPCTLS_FLAGS_HANDSHAKE = 0x01;

    /**
     * The kernel gives up a connection whose handshake failed (client: reterr != OK; server: no
     * HANDSHAKE flag): the daemon has closed its descriptor and, in FreeBSD, that close already
     * disconnects the socket. Here the test still holds the other descriptor, so shut it down.
     */
    private static void dropped(SocketFd tcp) {
        if (tcp.isOpen()) LibC.shutdown(tcp.fd(), LibC.SHUT_RDWR);
    }

    /** rpctls_rpc_failed: a socket the daemon never took is closed; one it took is shut down for reading. */
    private void failed(long cookie, SocketFd tcp) {
        if (broker.withdraw(cookie)) LibC.shutdown(tcp.fd(), LibC.SHUT_RDWR);
        else LibC.shutdown(tcp.fd(), LibC.SHUT_RD);
    }

    /**
     * The kernel's TLS receive path: waits until a record is queued on {@code tcp} and returns
     * its type without consuming it (recvmsg MSG_PEEK; with kernel TLS the type arrives in a
     * TLS_GET_RECORD_TYPE control message, 23 = application data). -1 if nothing arrived.
     * FreeBSD's krpc does the same with soreceive(MSG_TLSAPPDATA) and then calls HANDLERECORD
     * for anything but application data.
     */
    public static int peekRecordType(SocketFd tcp, Duration wait) throws InterruptedException {
        try {
            org.rpctls.sys.FdPoller.shared().await(tcp.fd(), LibC.POLLIN, System.nanoTime() + wait.toNanos());
        } catch (java.util.concurrent.TimeoutException e) {
            return -1;
        }
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            var buf = arena.allocate(64);
            var iov = arena.allocate(16, 8);
            iov.set(java.lang.foreign.ValueLayout.ADDRESS, 0, buf);
            iov.set(java.lang.foreign.ValueLayout.JAVA_LONG, 8, 64);
            var cmsg = arena.allocate(64, 8);
            var msg = arena.allocate(56, 8);
            msg.set(java.lang.foreign.ValueLayout.ADDRESS, 16, iov);
            msg.set(java.lang.foreign.ValueLayout.JAVA_LONG, 24, 1);
            msg.set(java.lang.foreign.ValueLayout.ADDRESS, 32, cmsg);
            msg.set(java.lang.foreign.ValueLayout.JAVA_LONG, 40, 64);
            long n = LibC.recvmsg(tcp.fd(), msg, LibC.MSG_PEEK | LibC.MSG_DONTWAIT);
            if (n < 0) return -1;
            long controlLen = msg.get(java.lang.foreign.ValueLayout.JAVA_LONG, 40);
            // struct cmsghdr (glibc): cmsg_len (size_t), level, type, data at 16
            if (controlLen >= 17 && cmsg.get(java.lang.foreign.ValueLayout.JAVA_INT, 8) == LibC.SOL_TLS
                    && cmsg.get(java.lang.foreign.ValueLayout.JAVA_INT, 12) == 2 /* TLS_GET_RECORD_TYPE */) {
                return Byte.toUnsignedInt(cmsg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 16));
            }
            return 23;
        }
    }

    /** HANDLERECORD for a session: what the kernel does when its TLS receive path meets a non-application record. */
    public int handleRecord(Role role, SessionRef ref) throws IOException, TimeoutException, InterruptedException {
        return switch (ref) {
            case SessionRef.Triple t -> role == Role.CLIENT
                    ? side(role).call(Rpctls.HANDLERECORD, new RpctlscdV1.HandlerecordArg(t.sec(), t.usec(), t.refno()),
                            RpctlscdV1.HandlerecordRes::decode).reterr()
                    : side(role).call(Rpctls.HANDLERECORD, new RpctlssdV1.HandlerecordArg(t.sec(), t.usec(), t.refno()),
                            RpctlssdV1.HandlerecordRes::decode).reterr();
            case SessionRef.Cookie c -> role == Role.CLIENT
                    ? side(role).call(Rpctls.HANDLERECORD, new RpctlscdV2.HandlerecordArg(c.socookie()), RpctlscdV2.HandlerecordRes::decode).reterr()
                    : side(role).call(Rpctls.HANDLERECORD, new RpctlssdV2.HandlerecordArg(c.socookie()), RpctlssdV2.HandlerecordRes::decode).reterr();
        };
    }

    /** DISCONNECT for a session: the kernel destroys the connection. */
    public int disconnect(Role role, SessionRef ref) throws IOException, TimeoutException, InterruptedException {
        return switch (ref) {
            case SessionRef.Triple t -> role == Role.CLIENT
                    ? side(role).call(Rpctls.DISCONNECT, new RpctlscdV1.DisconnectArg(t.sec(), t.usec(), t.refno()),
                            RpctlscdV1.DisconnectRes::decode).reterr()
                    : side(role).call(Rpctls.DISCONNECT, new RpctlssdV1.DisconnectArg(t.sec(), t.usec(), t.refno()),
                            RpctlssdV1.DisconnectRes::decode).reterr();
            case SessionRef.Cookie c -> role == Role.CLIENT
                    ? side(role).call(Rpctls.DISCONNECT, new RpctlscdV2.DisconnectArg(c.socookie()), RpctlscdV2.DisconnectRes::decode).reterr()
                    : side(role).call(Rpctls.DISCONNECT, new RpctlssdV2.DisconnectArg(c.socookie()), RpctlssdV2.DisconnectRes::decode).reterr();
        };
    }

    /** Any call, for tests of bad upcalls (wrong procedure, garbage arguments). */
    public <T> T call(Role role, int proc, XdrAble args, XdrReader.Decoder<T> result) throws IOException, TimeoutException, InterruptedException {
        return side(role).call(proc, args, result);
    }

    /** Raw bytes to the daemon (a record-marked message in v1, a netlink packet in v2); its raw answer or null. */
    public byte[] raw(Role role, byte[] message, Duration wait) throws IOException, InterruptedException {
        return side(role).raw(message, wait.toMillis());
    }

    @Override
    public void close() {
        broker.close();
        if (bus != null) bus.close();
        if (localClient != null) localClient.close();
        if (localServer != null) localServer.close();
        replyQueue.shutdown();
    }
}
