package org.rpctls.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.function.BiConsumer;
import org.rpctls.ffi.LibC;
import org.rpctls.netlink.MalformedNetlinkException;
import org.rpctls.netlink.NetlinkMessage;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.UnixSockets;
import org.rpctls.tls.Role;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Linux kernel gives a handshake request to whichever agent ACCEPTs first, so
 * rpc.tlsclntd may receive a SERVERHELLO and rpc.tlsservd a CLIENTHELLO. Each daemon listens
 * on DIR/rpc.tls{clnt,serv}d.handoff (AF_UNIX, mode 0600); the daemon that got the other
 * role's request passes the socket (SCM_RIGHTS) and the ACCEPT parameters there, and the
 * sibling, which now holds the socket in its own fd table, finishes the request and sends DONE.
 */
final class SiblingLink implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger("rpctls");

    private final Path dir;
    private final Role role;
    private SocketFd listener;
    private volatile boolean closed;

    SiblingLink(Path dir, Role role) {
        this.dir = dir;
        this.role = role;
    }

    static Path socketPath(Path dir, Role role) {
        return dir.resolve((role == Role.CLIENT ? "rpc.tlsclntd" : "rpc.tlsservd") + ".handoff");
    }

    /** Starts taking requests handed over by the sibling; {@code serve} runs each one (params, socket). */
    void listen(BiConsumer<HandshakeFamily.AcceptParams, SocketFd> serve) throws IOException {
        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        listener = UnixSockets.listen(socketPath(dir, role), LibC.SOCK_STREAM, 64);
        org.rpctls.sys.Sockets.setNonBlocking(listener.fd(), false);
        Thread.ofPlatform().daemon().name("handoff accept").start(() -> {
            while (!closed) {
                int c = LibC.accept(listener.fd(), java.lang.foreign.MemorySegment.NULL, java.lang.foreign.MemorySegment.NULL);
                if (c < 0) {
                    if (closed) return;
                    LinuxHandshakeAgent.pause(); // EMFILE and the like: do not spin
                    continue;
                }
                LibC.fcntl(c, LibC.F_SETFD, LibC.FD_CLOEXEC);
                Thread.ofVirtual().name("handoff").start(() -> receive(SocketFd.adopt(c), serve));
            }
        });
    }

    private void receive(SocketFd conn, BiConsumer<HandshakeFamily.AcceptParams, SocketFd> serve) {
        SocketFd socket = null;
        try (conn) {
            var r = UnixSockets.receiveWithFd(conn.fd(), 64 * 1024);
            if (r.fd() >= 0) socket = SocketFd.adopt(r.fd());
            if (socket == null) throw new IOException("no socket attached");
            var msgs = NetlinkMessage.parseAll(r.data());
            if (msgs.size() != 1 || msgs.get(0).cmd() != HandshakeFamily.CMD_ACCEPT) throw new IOException("not an ACCEPT record");
            var params = HandshakeFamily.parseAccept(msgs.get(0).attrs()).withSockfd(socket.fd());
            UnixSockets.sendWithFd(conn.fd(), new byte[] {0}, -1);
            SocketFd mine = socket;
            socket = null;
            serve.accept(params, mine);
        } catch (IOException | MalformedNetlinkException | RuntimeException e) {
            LOG.error("handoff from the sibling daemon refused: {}", e.getMessage());
            if (socket != null) socket.close();
        }
    }

    /**
     * Passes {@code socket} and its parameters to the sibling daemon; on success our descriptor
     * is closed (the sibling holds its own). Throws when no sibling takes it.
     */
    void handOff(HandshakeFamily.AcceptParams params, SocketFd socket, Role siblingRole) throws IOException {
        Path target = socketPath(dir, siblingRole);
        byte[] record = new NetlinkMessage(0, 0, 0, 0, HandshakeFamily.CMD_ACCEPT, HandshakeFamily.VERSION, params.attrs()).encode();
        try (SocketFd conn = UnixSockets.connect(target, LibC.SOCK_STREAM)) {
            UnixSockets.sendWithFd(conn.fd(), record, socket.fd());
            var ack = UnixSockets.receiveWithFd(conn.fd(), 1);
            if (ack.fd() >= 0) LibC.close(ack.fd());
            if (ack.data().length != 1 || ack.data()[0] != 0) throw new IOException("the sibling at " + target + " did not take it");
        } catch (IOException e) {
            throw new IOException("no sibling daemon at " + target + ": " + e.getMessage(), e);
        }
        socket.close();
    }

    @Override
    public void close() {
        closed = true;
        if (listener != null) {
            LibC.shutdown(listener.fd(), LibC.SHUT_RDWR);
            listener.close();
            try {
                Files.deleteIfExists(socketPath(dir, role));
            } catch (IOException ignored) {
                // best effort
            }
        }
    }
}
