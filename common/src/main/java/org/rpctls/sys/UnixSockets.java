package org.rpctls.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.SystemCallException;

/**
 * AF_UNIX sockets through libc, for what the JDK's channels cannot do: SOCK_SEQPACKET, and
 * passing descriptors (SCM_RIGHTS). Layouts differ between glibc and FreeBSD (sockaddr_un,
 * msghdr, cmsghdr); both are handled here.
 */
public final class UnixSockets {
    private UnixSockets() {}

    private static final int PATH_MAX = LibC.FREEBSD ? 104 : 108;
    private static final int SUN_PATH_OFFSET = 2;
    /** struct msghdr: 56 bytes on glibc, 48 on FreeBSD; iov at 16, control at 32 on both. */
    private static final long MSGHDR_SIZE = 56;
    private static final long MSG_IOV = 16;
    private static final long MSG_IOVLEN = 24;
    private static final long MSG_CONTROL = 32;
    private static final long MSG_CONTROLLEN = 40;
    private static final long MSG_FLAGS = LibC.FREEBSD ? 44 : 48;
    /** struct cmsghdr: level/type at 8/12 (glibc, size_t cmsg_len) or 4/8 (FreeBSD); data at 16 on both (amd64). */
    private static final long CMSG_LEVEL = LibC.FREEBSD ? 4 : 8;
    private static final long CMSG_TYPE = LibC.FREEBSD ? 8 : 12;
    private static final long CMSG_DATA = 16;
    private static final long CMSG_SPACE_INT = 24;
    private static final long CMSG_LEN_INT = 20;
    private static final int MSG_CTRUNC = LibC.FREEBSD ? 0x20 : 0x8;

    /** struct sockaddr_un for {@code path}; the length to pass is the segment's size. */
    public static MemorySegment address(Arena arena, Path path) {
        byte[] p = path.toString().getBytes(StandardCharsets.UTF_8);
        if (p.length >= PATH_MAX) throw new IllegalArgumentException("socket path too long (" + p.length + " bytes): " + path);
        MemorySegment sa = arena.allocate(SUN_PATH_OFFSET + p.length + 1L);
        SockAddr.putFamily(sa, LibC.AF_UNIX, (int) sa.byteSize());
        MemorySegment.copy(MemorySegment.ofArray(p), 0, sa, SUN_PATH_OFFSET, p.length);
        return sa;
    }

    /** A new AF_UNIX socket of {@code type} (SOCK_STREAM, SOCK_SEQPACKET) connected to {@code path}. */
    public static SocketFd connect(Path path, int type) throws SystemCallException {
        int raw = LibC.socket(LibC.AF_UNIX, type | (LibC.FREEBSD ? 0 : LibC.SOCK_CLOEXEC), 0);
        if (raw < 0) throw SystemCallException.lastError("socket(AF_UNIX)");
        SocketFd fd = SocketFd.adopt(raw);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sa = address(arena, path);
            if (LibC.connect(raw, sa, (int) sa.byteSize()) != 0) throw SystemCallException.lastError("connect " + path);
            SocketFd ok = fd;
            fd = null;
            return ok;
        } finally {
            if (fd != null) fd.close();
        }
    }

    /** A listening AF_UNIX socket at {@code path} (replacing a stale file), created with mode 0600. */
    public static SocketFd listen(Path path, int type, int backlog) throws SystemCallException {
        int raw = LibC.socket(LibC.AF_UNIX, type | (LibC.FREEBSD ? 0 : LibC.SOCK_CLOEXEC), 0);
        if (raw < 0) throw SystemCallException.lastError("socket(AF_UNIX)");
        SocketFd fd = SocketFd.adopt(raw);
        try (Arena arena = Arena.ofConfined()) {
            LibC.unlink(arena.allocateFrom(path.toString()));
            MemorySegment sa = address(arena, path);
            // As FreeBSD's daemons do: the umask makes bind() create the file owner-rw only,
            // with no window in which others could connect.
            int old = LibC.umask(0177);
            int r = LibC.bind(raw, sa, (int) sa.byteSize());
            LibC.umask(old);
            if (r != 0) throw SystemCallException.lastError("bind " + path);
            if (LibC.listen(raw, backlog) != 0) throw SystemCallException.lastError("listen " + path);
            SocketFd ok = fd;
            fd = null;
            return ok;
        } finally {
            if (fd != null) fd.close();
        }
    }

    /** Sends {@code data} with {@code fdToSend} attached (SCM_RIGHTS); -1 sends no descriptor. */
    public static void sendWithFd(int sock, byte[] data, int fdToSend) throws SystemCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Math.max(1, data.length));
            MemorySegment.copy(MemorySegment.ofArray(data), 0, buf, 0, data.length);
            MemorySegment iov = arena.allocate(16, 8);
            iov.set(ADDRESS, 0, buf);
            iov.set(JAVA_LONG, 8, data.length);
            MemorySegment msg = arena.allocate(MSGHDR_SIZE, 8);
            msg.set(ADDRESS, MSG_IOV, iov);
            msg.set(JAVA_LONG, MSG_IOVLEN, 1);
            if (fdToSend >= 0) {
                MemorySegment cmsg = arena.allocate(CMSG_SPACE_INT, 8);
                if (LibC.FREEBSD) cmsg.set(JAVA_INT, 0, (int) CMSG_LEN_INT);
                else cmsg.set(JAVA_LONG, 0, CMSG_LEN_INT);
                cmsg.set(JAVA_INT, CMSG_LEVEL, LibC.SOL_SOCKET);
                cmsg.set(JAVA_INT, CMSG_TYPE, LibC.SCM_RIGHTS);
                cmsg.set(JAVA_INT, CMSG_DATA, fdToSend);
                msg.set(ADDRESS, MSG_CONTROL, cmsg);
                msg.set(JAVA_LONG, MSG_CONTROLLEN, CMSG_SPACE_INT);
            }
            if (LibC.sendmsg(sock, msg, LibC.FREEBSD ? 0 : LibC.MSG_NOSIGNAL) < 0) throw SystemCallException.lastError("sendmsg");
        }
    }

    /** What {@link #receiveWithFd} got: the bytes and the descriptor that came with them (or -1). */
    public record Received(byte[] data, int fd) {}

    /** Receives up to {@code max} bytes and at most one passed descriptor (close-on-exec). */
    public static Received receiveWithFd(int sock, int max) throws SystemCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Math.max(1, max));
            MemorySegment iov = arena.allocate(16, 8);
            iov.set(ADDRESS, 0, buf);
            iov.set(JAVA_LONG, 8, max);
            MemorySegment cmsg = arena.allocate(64, 8);
            MemorySegment msg = arena.allocate(MSGHDR_SIZE, 8);
            msg.set(ADDRESS, MSG_IOV, iov);
            msg.set(JAVA_LONG, MSG_IOVLEN, 1);
            msg.set(ADDRESS, MSG_CONTROL, cmsg);
            msg.set(JAVA_LONG, MSG_CONTROLLEN, cmsg.byteSize());
            long n = LibC.recvmsg(sock, msg, LibC.MSG_CMSG_CLOEXEC);
            if (n < 0) throw SystemCallException.lastError("recvmsg");
            int fd = -1;
            long controlLen = LibC.FREEBSD ? Integer.toUnsignedLong(msg.get(JAVA_INT, MSG_CONTROLLEN)) : msg.get(JAVA_LONG, MSG_CONTROLLEN);
            // Walk every control message: a sender may attach several SCM_RIGHTS messages, and any
            // descriptor beyond the one expected must be closed here or it leaks into this process.
            controlLen = Math.min(controlLen, cmsg.byteSize());
            for (long at = 0; at + CMSG_LEN_INT <= controlLen; ) {
                long len = LibC.FREEBSD ? Integer.toUnsignedLong(cmsg.get(JAVA_INT, at)) : cmsg.get(JAVA_LONG, at);
                if (len < CMSG_DATA || at + len > controlLen) break; // malformed: the kernel never sends this
                if (cmsg.get(JAVA_INT, at + CMSG_LEVEL) == LibC.SOL_SOCKET && cmsg.get(JAVA_INT, at + CMSG_TYPE) == LibC.SCM_RIGHTS) {
                    int count = (int) ((len - CMSG_DATA) / 4);
                    for (int i = 0; i < count; i++) {
                        int got = cmsg.get(JAVA_INT, at + CMSG_DATA + 4L * i);
                        if (fd < 0) fd = got;
                        else LibC.close(got); // only one was expected: never leak extras
                    }
                }
                at += (len + 7) & ~7L; // CMSG_NXTHDR: 8-byte alignment on amd64/arm64, glibc and FreeBSD
            }
            if ((msg.get(JAVA_INT, MSG_FLAGS) & MSG_CTRUNC) != 0 && fd >= 0) {
                LibC.close(fd);
                throw new SystemCallException("recvmsg (control data truncated)", LibC.EMSGSIZE);
            }
            return new Received(buf.asSlice(0, n).toArray(JAVA_BYTE), fd);
        }
    }

    /** Receives one datagram/packet (SOCK_SEQPACKET keeps boundaries); null at end of stream. */
    public static byte[] receivePacket(int sock, MemorySegment buffer) throws SystemCallException {
        while (true) {
            long n = LibC.recv(sock, buffer, buffer.byteSize(), LibC.MSG_TRUNC);
            if (n < 0) {
                if (LibC.errno() == LibC.EINTR) continue;
                throw SystemCallException.lastError("recv");
            }
            if (n == 0) return null;
            if (n > buffer.byteSize()) throw new SystemCallException("recv (" + n + "-byte packet larger than " + buffer.byteSize() + ")", LibC.EMSGSIZE);
            return buffer.asSlice(0, n).toArray(JAVA_BYTE);
        }
    }

    /** Sends one packet whole. */
    public static void sendPacket(int sock, byte[] data) throws SystemCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Math.max(1, data.length));
            MemorySegment.copy(MemorySegment.ofArray(data), 0, buf, 0, data.length);
            long n = LibC.send(sock, buf, data.length, LibC.FREEBSD ? 0 : LibC.MSG_NOSIGNAL);
            if (n < 0) throw SystemCallException.lastError("send");
            if (n != data.length) throw new SystemCallException("send (short: " + n + " of " + data.length + ")", LibC.EMSGSIZE);
        }
    }

}
