package org.rpctls.it;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.Sockets;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.TlsContext;
import org.rpctls.tls.TlsSession;

/** Engine-to-engine handshakes over loopback TCP, each side on its own virtual thread. */
public final class Loopback implements AutoCloseable {
    private final SocketFd listener;
    public final InetSocketAddress address;

    public Loopback() throws Exception {
        listener = Sockets.listenTcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1024);
        address = Sockets.localAddress(listener.fd());
    }

    /** One side's outcome: a session or the exception that ended the handshake. */
    public record Side(TlsSession session, Throwable failure) {
        public TlsSession get() {
            if (failure != null) throw new AssertionError("handshake failed: " + failure, failure);
            return session;
        }
    }

    public record Outcome(Side server, Side client) implements AutoCloseable {
        @Override
        public void close() {
            if (server.session() != null) server.session().close();
            if (client.session() != null) client.session().close();
        }
    }

    public Outcome handshake(TlsContext server, Handshaker.Request serverRequest, TlsContext client, Handshaker.Request clientRequest)
            throws Exception {
        try (var exec = Executors.newVirtualThreadPerTaskExecutor()) {
            Future<TlsSession> s = exec.submit(() -> {
                try (SocketFd fd = Sockets.accept(listener, Duration.ofSeconds(10))) {
                    return Handshaker.handshake(server, fd, serverRequest);
                }
            });
            Future<TlsSession> c = exec.submit(() -> {
                try (SocketFd fd = Sockets.connectTcp(address, Duration.ofSeconds(10))) {
                    return Handshaker.handshake(client, fd, clientRequest);
                }
            });
            return new Outcome(side(s), side(c));
        }
    }

    static Side side(Future<TlsSession> f) throws InterruptedException {
        try {
            return new Side(f.get(60, TimeUnit.SECONDS), null);
        } catch (ExecutionException e) {
            return new Side(null, e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            return new Side(null, e);
        }
    }

    public SocketFd listener() {
        return listener;
    }

    @Override
    public void close() {
        listener.close();
    }
}
