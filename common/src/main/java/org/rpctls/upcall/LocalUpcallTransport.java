package org.rpctls.upcall;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.dcache.oncrpc4j.rpc.ReplyQueue;
import org.rpctls.ffi.LibC;
import org.rpctls.rpc.RpcPrograms;
import org.rpctls.rpc.StreamRpcTransport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Version 1 (FreeBSD 13/14): ONC RPC with record marking on AF_LOCAL stream sockets the daemon
 * listens on (mode 0600); the kernel connects as the RPC client. Several paths (14.x's
 * rpc.tlsservd.sock.N slots) can be served by one process.
 */
public final class LocalUpcallTransport implements UpcallTransport {
    private static final Logger LOG = LoggerFactory.getLogger("rpctls");
    /** The kernel's RPC_MAXDATASIZE is about 9 KB; an upcall is far smaller. */
    static final int MAX_RECORD = 64 * 1024;

    private final List<Path> paths;
    private final Runnable afterListen;
    private final List<ServerSocketChannel> servers = new ArrayList<>();
    private final List<SocketChannel> connections = java.util.Collections.synchronizedList(new ArrayList<>());
    private final ReplyQueue replyQueue = new ReplyQueue();
    private volatile boolean closed;

    /**
     * @param afterListen runs once all sockets listen: on FreeBSD, the rpctls_syscall SETPATH that tells the kernel
     */
    public LocalUpcallTransport(List<Path> paths, Runnable afterListen) {
        this.paths = List.copyOf(paths);
        this.afterListen = afterListen;
    }

    @Override
    public void start(RpcPrograms programs) throws IOException {
        for (Path p : paths) {
            Files.deleteIfExists(p);
            ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            // FreeBSD's daemons set the umask so the socket file is born owner-rw only.
            int old = LibC.umask(0177);
            try {
                s.bind(UnixDomainSocketAddress.of(p), 64);
            } finally {
                LibC.umask(old);
            }
            servers.add(s);
            Thread.ofVirtual().name("accept " + p).start(() -> acceptLoop(s, p, programs));
        }
        afterListen.run();
    }

    private void acceptLoop(ServerSocketChannel server, Path path, RpcPrograms programs) {
        long backoff = 0;
        while (!closed) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (java.nio.channels.ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (closed) return;
                // Fault found by FaultTest: this loop used to end on any accept error, so one
                // EMFILE while the kernel reconnected left the daemon deaf until restarted. The
                // kernel's connection waits in the backlog; retry with a growing pause (no spin)
                // and one log line per failure streak.
                if (backoff == 0) LOG.error("accept on {} failed: {}; retrying", path, e.getMessage());
                backoff = backoff == 0 ? 50 : Math.min(1000, backoff * 2);
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException ie) {
                    return;
                }
                continue;
            }
            if (backoff != 0) LOG.info("accept on {} works again", path);
            backoff = 0;
            connections.add(ch);
            // A platform thread: the kernel's connection carries every upcall, and a virtual
            // reader paid for each message with the JDK's poller (epoll_ctl, a poller thread's
            // wake-up, then the carrier's): about 20 system calls and 8 futex operations more per
            // CONNECT than the netlink reader (strace -c, handshake storm). Blocked in read(2)
            // here, it is woken by the kernel directly; and HANDLERECORDs whose record is queued
            // are answered on it (Async.runNowOrAsync).
            Thread.ofPlatform().daemon().name("upcalls " + path).start(() -> {
                var transport = new StreamRpcTransport(ch, replyQueue);
                String why = transport.serve(programs, MAX_RECORD);
                // the kernel closes its RPC connection rarely (the daemon keeps serving; the next upcall reconnects): one line either way
                if (!closed && why.equals("closed by peer")) LOG.info("upcall connection on {} closed by the kernel", path);
                else if (!closed) LOG.info("upcall connection on {} dropped: {}", path, why);
                connections.remove(ch);
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // closing
                }
            });
        }
    }

    @Override
    public String describe() {
        return "AF_LOCAL " + paths;
    }

    @Override
    public void close() {
        closed = true;
        for (ServerSocketChannel s : servers) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing
            }
        }
        for (SocketChannel c : List.copyOf(connections)) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing
            }
        }
        for (Path p : paths) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // best effort
            }
        }
        replyQueue.shutdown();
    }
}
