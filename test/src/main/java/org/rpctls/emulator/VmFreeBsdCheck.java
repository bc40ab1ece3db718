package org.rpctls.emulator;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.rpctls.rpc.Rpctls;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.Sockets;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.Role;
import org.rpctls.tls.RpctlsFlags;
import org.rpctls.tls.TlsContext;
import org.rpctls.tls.TlsSession;
import org.rpctls.tls.TlsSettings;

/**
 * The emulated-FreeBSD-kernel flows on a kernel that has kTLS (the lab VM): both daemons,
 * both generations, WITHOUT --no-ktls-check, so every CONNECT proves kernel TLS in both
 * directions; and HANDLERECORD driven by a real close_notify that arrives through the
 * kernel's TLS receive path. Usage: VmFreeBsdCheck DIST PKI OUT. Prints PASS/FAIL lines and
 * a totals line; exits 1 on any failure.
 */
public final class VmFreeBsdCheck {
    private static int passed;
    private static int failed;

    private static void check(String name, boolean ok, String detail) {
        if (ok) passed++;
        else failed++;
        System.out.println((ok ? "PASS " : "FAIL ") + name + (ok || detail == null ? "" : "\n    " + detail.replace("\n", "\n    ")));
    }

    public static void main(String[] args) throws Exception {
        Path dist = Path.of(args[0]);
        Path pki = Path.of(args[1]);
        Path out = Path.of(args[2]);
        for (int version : new int[] {1, 2}) {
            server(version, dist, pki, out);
            client(version, dist, pki, out);
        }
        System.out.println("VmFreeBsdCheck totals: passed=" + passed + " failed=" + failed);
        System.exit(failed == 0 ? 0 : 1);
    }

    static Process daemon(Path dist, Role role, Path dir, int version, Path log, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(dist.resolve("bin").resolve(role == Role.CLIENT ? "rpc.tlsclntd" : "rpc.tlsservd").toString(),
                "-d", "-v", "--emulated-kernel=" + dir, "--upcall=" + (version == 1 ? "local" : "netlink")));
        cmd.addAll(List.of(extra));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long end = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (System.nanoTime() < end) {
            if (Files.exists(log) && Files.readString(log).contains(" started: ")) return p;
            if (!p.isAlive()) throw new IllegalStateException("daemon died:\n" + Files.readString(log));
            Thread.sleep(100);
        }
        throw new IllegalStateException("daemon did not start:\n" + Files.readString(log));
    }

    static SocketFd[] pair(SocketFd listener) throws Exception {
        var addr = Sockets.localAddress(listener.fd());
        SocketFd c = Sockets.connectTcp(addr, Duration.ofSeconds(10));
        SocketFd a = Sockets.accept(listener, Duration.ofSeconds(10));
        return new SocketFd[] {c, a};
    }

    static CompletableFuture<TlsSession> peer(TlsContext ctx, SocketFd fd) {
        var f = new CompletableFuture<TlsSession>();
        Thread.ofVirtual().start(() -> {
            try {
                f.complete(Handshaker.handshake(ctx, fd, Handshaker.Request.defaults().withTimeout(Duration.ofSeconds(60))));
            } catch (Throwable t) {
                f.completeExceptionally(t);
            }
        });
        return f;
    }

    /** HANDLERECORD as the kernel drives it: the peer's close_notify shows up as an alert record on the receive path. */
    static void closeNotifyThroughTheKernel(EmulatedKernel k, Role role, EmulatedKernel.SessionRef ref, SocketFd kernelSocket,
                                            TlsSession peer, Path log, String what) throws Exception {
        peer.close(); // OpenSSL sends close_notify through the peer's kTLS send path
        int type = EmulatedKernel.peekRecordType(kernelSocket, Duration.ofSeconds(20));
        check(what + ": the kernel's TLS receive path reports an alert record (type 21), not data", type == 21, "record type " + type);
        int reterr = k.handleRecord(role, ref);
        check(what + ": HANDLERECORD consumed it (reterr OK)", reterr == Rpctls.RPCTLSERR_OK, "reterr " + reterr);
        long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < end && !Files.readString(log).contains("close_notify from")) Thread.sleep(100);
        check(what + ": the daemon saw close_notify and answered it", Files.readString(log).contains("close_notify from"), Files.readString(log));
        check(what + ": DISCONNECT", k.disconnect(role, ref) == Rpctls.RPCTLSERR_OK, null);
    }

    static void server(int version, Path dist, Path pki, Path out) throws Exception {
        Path dir = Files.createTempDirectory("emu-s" + version);
        Path log = out.resolve("emu-tlsservd-v" + version + ".log");
        try (var k = new EmulatedKernel(dir, version);
             var listener = Sockets.listenTcp(new java.net.InetSocketAddress("127.0.0.1", 0), 16);
             var clientCtx = TlsContext.create(TlsSettings.defaults(Role.CLIENT).withCertDir(pki.resolve("clntd")).withOwnCert(true)
                     .withCa(pki.resolve("ca.pem"), null))) {
            Process d = daemon(dist, Role.SERVER, dir, version, log, "-D", pki.resolve("servd").toString(), "-m", "-l", pki.resolve("ca.pem").toString());
            try {
                k.awaitDaemon(Role.SERVER, 1, Duration.ofSeconds(60));
                SocketFd[] p = pair(listener);
                var peerF = peer(clientCtx, p[0]);
                var r = k.serverConnect(p[1]);
                TlsSession peerSession = peerF.get(60, TimeUnit.SECONDS);
                int want = RpctlsFlags.HANDSHAKE | RpctlsFlags.GOTCERT | RpctlsFlags.VERIFIED;
                check("v" + version + " rpc.tlsservd CONNECT with real kTLS: flags " + RpctlsFlags.describe(r.flags()) + " (no DISABLED)",
                        r.replied() && r.flags() == want, Files.readString(log));
                check("v" + version + " the NFS client end has kTLS both ways too", peerSession.info().ktlsBoth(), peerSession.info().ktlsDetail());
                closeNotifyThroughTheKernel(k, Role.SERVER, r.ref(), p[1], peerSession, log, "v" + version + " rpc.tlsservd");
                p[0].close();
                p[1].close();
            } finally {
                d.destroy();
                d.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    static void client(int version, Path dist, Path pki, Path out) throws Exception {
        Path dir = Files.createTempDirectory("emu-c" + version);
        Path log = out.resolve("emu-tlsclntd-v" + version + ".log");
        try (var k = new EmulatedKernel(dir, version);
             var listener = Sockets.listenTcp(new java.net.InetSocketAddress("127.0.0.1", 0), 16);
             var serverCtx = TlsContext.create(TlsSettings.defaults(Role.SERVER).withCertDir(pki.resolve("servd")))) {
            Process d = daemon(dist, Role.CLIENT, dir, version, log, "-l", pki.resolve("ca.pem").toString());
            try {
                k.awaitDaemon(Role.CLIENT, 1, Duration.ofSeconds(60));
                SocketFd[] p = pair(listener);
                var peerF = peer(serverCtx, p[1]);
                var r = k.clientConnect(p[0], "");
                TlsSession peerSession = peerF.get(60, TimeUnit.SECONDS);
                check("v" + version + " rpc.tlsclntd CONNECT with real kTLS: reterr " + Rpctls.errorName(r.reterr()),
                        r.reterr() == Rpctls.RPCTLSERR_OK, Files.readString(log));
                check("v" + version + " the NFS server end has kTLS both ways too", peerSession.info().ktlsBoth(), peerSession.info().ktlsDetail());
                closeNotifyThroughTheKernel(k, Role.CLIENT, r.ref(), p[0], peerSession, log, "v" + version + " rpc.tlsclntd");
                p[0].close();
                p[1].close();
            } finally {
                d.destroy();
                d.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
