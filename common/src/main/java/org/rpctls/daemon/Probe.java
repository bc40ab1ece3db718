package org.rpctls.daemon;

import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.Sockets;
import org.rpctls.tls.HandshakeException;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.RpctlsFlags;
import org.rpctls.tls.Role;
import org.rpctls.tls.TlsContext;
import org.rpctls.tls.TlsSession;

/**
 * --probe: one handshake with the daemon's own configuration against a real TLS peer, reported
 * the way the daemon would judge it. The client connects to HOST:PORT; the server listens on
 * [ADDR:]PORT for one connection. An administrator's check that certificates, CAs and names
 * line up before the kernel ever asks.
 */
public final class Probe {
    private Probe() {}

    /** Returns the exit status: 0 when the daemon would accept the peer (kernel TLS aside). */
    public static int run(DaemonOptions o, TlsContext ctx, PrintStream out) throws Exception {
        String prog = DaemonOptions.progName(o.role());
        Handshaker.Request req = Handshaker.Request.defaults().withHostCheck(o.hostCheck());
        TlsSession session;
        String peerText;
        if (o.role() == Role.CLIENT) {
            InetSocketAddress to = hostPort(o.probe(), null);
            peerText = to.getAddress().getHostAddress() + ":" + to.getPort();
            try (SocketFd fd = Sockets.connectTcp(to, Handshaker.DEFAULT_TIMEOUT)) {
                session = Handshaker.handshake(ctx, fd, req);
            } catch (HandshakeException e) {
                out.printf("%s: handshake with %s failed (%s): %s%n", prog, peerText, e.reason(), e.getMessage());
                return 1;
            }
        } else {
            InetSocketAddress at = hostPort(o.probe(), "0.0.0.0");
            try (SocketFd listener = Sockets.listenTcp(at, 1)) {
                var local = Sockets.localAddress(listener.fd());
                out.printf("%s: listening on %s:%d for one probe connection%n", prog, local.getAddress().getHostAddress(), local.getPort());
                out.flush();
                try (SocketFd fd = Sockets.accept(listener, Duration.ofMinutes(5))) {
                    var peer = Sockets.peerAddress(fd.fd());
                    peerText = peer.getAddress().getHostAddress() + ":" + peer.getPort();
                    try {
                        session = Handshaker.handshake(ctx, fd, req);
                    } catch (HandshakeException e) {
                        out.printf("%s: handshake with %s failed (%s): %s%n", prog, peerText, e.reason(), e.getMessage());
                        return 1;
                    }
                }
            }
        }
        try (session) {
            var i = session.info();
            var p = session.peer();
            out.printf("%s: SSL handshake ok for host %s <%s %s> ALPN %s%n", prog, peerText, i.protocol(), i.cipher(),
                    i.alpn() == null ? "none" : i.alpn());
            if (p.gotCert()) {
                out.printf("%s: peer certificate subjectName=%s issuerName=%s verify %s%n", prog, p.subject(), p.issuer(),
                        p.verifyResult() == 0 ? "ok" : "failed: " + p.verifyError());
                if (p.hostChecked()) {
                    out.printf("%s: host check: %s %s%n", prog, p.hostName().orElse("(no reverse DNS name)"),
                            p.hostMatches() ? "matches" : "does not match");
                }
                p.certUser().ifPresent(u -> out.printf("%s: certificate user: %s%n", prog, u));
                if (p.certUserNote() != null) out.printf("%s: no certificate user: %s%n", prog, p.certUserNote());
            } else {
                out.printf("%s: peer sent no certificate%n", prog);
            }
            out.printf("%s: %s%n", prog, i.ktlsText());
            if (o.role() == Role.CLIENT) {
                Optional<String> refusal = RpctlsFlags.clientRefusal(session, o.caFile() != null || o.caDir() != null, false);
                boolean ktls = session.info().ktlsBoth();
                out.printf("%s: verdict: %s%s%n", prog, refusal.map(r -> "refused: " + r).orElse("accepted"),
                        ktls ? "" : " (kernel TLS inactive: a real CONNECT upcall would fail with \"ktls not working\")");
                return refusal.isPresent() ? 1 : 0;
            }
            int flags = RpctlsFlags.server(session, o.mutual(), true);
            out.printf("%s: CONNECT flags would be %s%s%n", prog, RpctlsFlags.describe(flags),
                    session.info().ktlsBoth() ? "" : " (DISABLED: kernel TLS inactive)");
            return 0;
        }
    }

    static InetSocketAddress hostPort(String spec, String defaultHost) throws UsageException {
        String host = defaultHost;
        String port = spec;
        int colon = spec.lastIndexOf(':');
        if (colon >= 0) {
            host = spec.substring(0, colon);
            port = spec.substring(colon + 1);
            if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        }
        if (host == null || host.isEmpty()) throw new UsageException("--probe needs HOST:PORT", 1);
        try {
            int p = Integer.parseInt(port);
            if (p < 0 || p > 65535) throw new NumberFormatException();
            return new InetSocketAddress(InetAddress.getByName(host), p);
        } catch (NumberFormatException e) {
            throw new UsageException("--probe: bad port \"" + port + "\"", 1);
        } catch (java.net.UnknownHostException e) {
            throw new UsageException("--probe: unknown host \"" + host + "\"", 1);
        }
    }
}
