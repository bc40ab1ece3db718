package org.rpctls.netlink;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.SystemCallException;
import org.rpctls.sys.SocketFd;

/** A real generic-netlink socket: AF_NETLINK (16 on Linux, 38 on FreeBSD), SOCK_RAW, NETLINK_GENERIC. */
public final class RawNetlinkSocket extends PacketSocket {
    public static final int AF_NETLINK = LibC.FREEBSD ? 38 : 16;
    public static final int SOCK_RAW = 3;
    public static final int NETLINK_GENERIC = 16;
    public static final int SOL_NETLINK = 270;
    public static final int NETLINK_ADD_MEMBERSHIP = 1;

    private RawNetlinkSocket(SocketFd fd) {
        super(fd);
    }

    public static RawNetlinkSocket open() throws SystemCallException {
        int raw = LibC.socket(AF_NETLINK, SOCK_RAW | (LibC.FREEBSD ? 0 : LibC.SOCK_CLOEXEC), NETLINK_GENERIC);
        if (raw < 0) throw SystemCallException.lastError("socket(AF_NETLINK, NETLINK_GENERIC)");
        return new RawNetlinkSocket(SocketFd.adopt(raw));
    }

    /**
     * Sets the receive buffer to BYTES (the kernel doubles it for its bookkeeping): with
     * SO_RCVBUFFORCE where allowed (CAP_NET_ADMIN on Linux), past net.core.rmem_max; else SO_RCVBUF.
     */
    public void setReceiveBuffer(int bytes) throws SystemCallException {
        try (Arena arena = Arena.ofConfined()) {
            var value = arena.allocateFrom(JAVA_INT, bytes);
            if (!LibC.FREEBSD && LibC.setsockopt(fd.fd(), LibC.SOL_SOCKET, LibC.SO_RCVBUFFORCE, value, 4) == 0) return;
            if (LibC.setsockopt(fd.fd(), LibC.SOL_SOCKET, LibC.SO_RCVBUF, value, 4) != 0) {
                throw SystemCallException.lastError("setsockopt(SO_RCVBUF " + bytes + ")");
            }
        }
    }

    /** The receive buffer as the kernel keeps it (twice what was set), from getsockopt(SO_RCVBUF). */
    public int receiveBuffer() throws SystemCallException {
        try (Arena arena = Arena.ofConfined()) {
            var value = arena.allocate(JAVA_INT);
            var len = arena.allocateFrom(JAVA_INT, 4);
            if (LibC.getsockopt(fd.fd(), LibC.SOL_SOCKET, LibC.SO_RCVBUF, value, len) != 0) {
                throw SystemCallException.lastError("getsockopt(SO_RCVBUF)");
            }
            return value.get(JAVA_INT, 0);
        }
    }

    @Override
    public void joinGroup(int group) throws SystemCallException {
        try (Arena arena = Arena.ofConfined()) {
            if (LibC.setsockopt(fd.fd(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, arena.allocateFrom(JAVA_INT, group), 4) != 0) {
                throw SystemCallException.lastError("setsockopt(NETLINK_ADD_MEMBERSHIP " + group + ")");
            }
        }
    }
}
