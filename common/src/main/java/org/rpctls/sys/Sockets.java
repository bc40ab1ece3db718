package org.rpctls.sys;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeoutException;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.SystemCallException;

/**
 * TCP sockets as raw descriptors, which OpenSSL can use and kernels hand us. (The JDK's
 * channels do not expose their descriptors.) Blocking waits go through {@link FdPoller}.
 */
public final class Sockets {
    private Sockets() {}

    public static void setNonBlocking(int fd, boolean on) throws SystemCallException {
        int flags = LibC.fcntl(fd, LibC.F_GETFL);
        if (flags < 0) throw SystemCallException.lastError("fcntl(F_GETFL)");
        int wanted = on ? flags | LibC.O_NONBLOCK : flags & ~LibC.O_NONBLOCK;
        if (wanted != flags && LibC.fcntl(fd, LibC.F_SETFL, wanted) < 0) throw SystemCallException.lastError("fcntl(F_SETFL)");
    }

    /** Connects a new non-blocking TCP socket to {@code to} within {@code timeout}. */
    public static SocketFd connectTcp(InetSocketAddress to, Duration timeout) throws SystemCallException, TimeoutException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        int family = to.getAddress() instanceof java.net.Inet6Address ? LibC.AF_INET6 : LibC.AF_INET;
        int raw = LibC.socket(family, LibC.SOCK_STREAM | (LibC.FREEBSD ? 0 : LibC.SOCK_CLOEXEC), 0);
        if (raw < 0) throw SystemCallException.lastError("socket");
        SocketFd fd = SocketFd.adopt(raw);
        try (Arena arena = Arena.ofConfined()) {
            setNonBlocking(raw, true);
            MemorySegment sa = SockAddr.encode(arena, to);
            if (LibC.connect(raw, sa, (int) sa.byteSize()) != 0) {
                if (LibC.errno() != LibC.EINPROGRESS) throw SystemCallException.lastError("connect " + to);
                FdPoller.shared().await(raw, LibC.POLLOUT, deadline);
                MemorySegment err = arena.allocate(JAVA_INT);
                MemorySegment len = arena.allocateFrom(JAVA_INT, 4);
                if (LibC.getsockopt(raw, LibC.SOL_SOCKET, LibC.SO_ERROR, err, len) != 0) throw SystemCallException.lastError("getsockopt(SO_ERROR)");
                if (err.get(JAVA_INT, 0) != 0) throw new SystemCallException("connect " + to, err.get(JAVA_INT, 0));
            }
            SocketFd ok = fd;
            fd = null;
            return ok;
        } finally {
            if (fd != null) fd.close();
        }
    }

    /** A non-blocking listening TCP socket bound to {@code at} (port 0 = any free port). */
    public static SocketFd listenTcp(InetSocketAddress at, int backlog) throws SystemCallException {
        int family = at.getAddress() instanceof java.net.Inet6Address ? LibC.AF_INET6 : LibC.AF_INET;
        int raw = LibC.socket(family, LibC.SOCK_STREAM | (LibC.FREEBSD ? 0 : LibC.SOCK_CLOEXEC), 0);
        if (raw < 0) throw SystemCallException.lastError("socket");
        SocketFd fd = SocketFd.adopt(raw);
        try (Arena arena = Arena.ofConfined()) {
            LibC.setsockopt(raw, LibC.SOL_SOCKET, LibC.SO_REUSEADDR, arena.allocateFrom(JAVA_INT, 1), 4);
            MemorySegment sa = SockAddr.encode(arena, at);
            if (LibC.bind(raw, sa, (int) sa.byteSize()) != 0) throw SystemCallException.lastError("bind " + at);
            if (LibC.listen(raw, backlog) != 0) throw SystemCallException.lastError("listen");
            setNonBlocking(raw, true);
            SocketFd ok = fd;
            fd = null;
            return ok;
        } finally {
            if (fd != null) fd.close();
        }
    }

    /** Accepts one connection on a listening socket from {@link #listenTcp}, waiting until the deadline. */
    public static SocketFd accept(SocketFd listener, Duration timeout) throws SystemCallException, TimeoutException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            int raw = LibC.accept(listener.fd(), MemorySegment.NULL, MemorySegment.NULL);
            if (raw >= 0) {
                LibC.fcntl(raw, LibC.F_SETFD, LibC.FD_CLOEXEC);
                return SocketFd.adopt(raw);
            }
            int errno = LibC.errno();
            if (errno != LibC.EAGAIN && errno != LibC.EINTR) throw new SystemCallException("accept", errno);
            FdPoller.shared().await(listener.fd(), LibC.POLLIN, deadline);
        }
    }

    public static InetSocketAddress localAddress(int fd) throws SystemCallException {
        return address(fd, false);
    }

    /** The peer's address, or null if the socket is not an IP socket. */
    public static InetSocketAddress peerAddress(int fd) throws SystemCallException {
        return address(fd, true);
    }

    private static InetSocketAddress address(int fd, boolean peer) throws SystemCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sa = arena.allocate(LibC.SOCKADDR_STORAGE_SIZE);
            MemorySegment len = arena.allocateFrom(JAVA_INT, LibC.SOCKADDR_STORAGE_SIZE);
            int r = peer ? LibC.getpeername(fd, sa, len) : LibC.getsockname(fd, sa, len);
            if (r != 0) throw SystemCallException.lastError(peer ? "getpeername" : "getsockname");
            return SockAddr.decode(sa);
        }
    }

    /**
     * The peer's host name by reverse DNS, as FreeBSD's daemons find it for the host check:
     * getpeername + getnameinfo(NI_NAMEREQD). Empty when there is no name (or no peer).
     */
    public static Optional<String> reverseName(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sa = arena.allocate(LibC.SOCKADDR_STORAGE_SIZE);
            MemorySegment len = arena.allocateFrom(JAVA_INT, LibC.SOCKADDR_STORAGE_SIZE);
            if (LibC.getpeername(fd, sa, len) != 0) return Optional.empty();
            MemorySegment host = arena.allocate(LibC.NI_MAXHOST);
            int r = LibC.getnameinfo(sa, len.get(JAVA_INT, 0), host, LibC.NI_MAXHOST, MemorySegment.NULL, 0, LibC.NI_NAMEREQD);
            return r == 0 ? Optional.of(host.getString(0)) : Optional.empty();
        }
    }
}
