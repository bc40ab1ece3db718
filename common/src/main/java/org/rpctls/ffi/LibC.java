package org.rpctls.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * Hand-written bindings to the C library (glibc on Linux, libc on FreeBSD): the socket, poll,
 * fd and user-database calls the daemons need. Calls that can fail capture errno, which
 * {@link #errno()} then returns, as C's errno would, for the calling thread.
 * Constants that differ between Linux and FreeBSD are resolved once from the running OS.
 */
public final class LibC {
    private LibC() {}

    public static final boolean FREEBSD = System.getProperty("os.name", "").toLowerCase().contains("freebsd");

    private static final Binder B = new Binder("libc", Binder.LINKER.defaultLookup());
    private static final Linker.Option ERRNO = ErrnoCapture.OPTION;

    // --- constants ---
    public static final int AF_UNIX = 1;
    public static final int AF_INET = 2;
    public static final int AF_INET6 = FREEBSD ? 28 : 10;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_SEQPACKET = 5;
    public static final int SOCK_CLOEXEC = FREEBSD ? 0x10000000 : 0x80000;
    public static final int SOL_SOCKET = FREEBSD ? 0xffff : 1;
    public static final int SO_RCVTIMEO = FREEBSD ? 0x1006 : 20;
    public static final int SO_RCVBUF = FREEBSD ? 0x1002 : 8;
    /** Linux only: SO_RCVBUF past net.core.rmem_max, for CAP_NET_ADMIN. */
    public static final int SO_RCVBUFFORCE = 33;
    public static final int SO_REUSEADDR = FREEBSD ? 0x4 : 2;
    public static final int SO_ERROR = FREEBSD ? 0x1007 : 4;
    public static final int IPPROTO_TCP = 6;
    public static final int SHUT_RD = 0;
    public static final int SHUT_WR = 1;
    public static final int SHUT_RDWR = 2;
    public static final int F_GETFD = 1;
    public static final int F_SETFD = 2;
    public static final int F_GETFL = 3;
    public static final int F_SETFL = 4;
    public static final int FD_CLOEXEC = 1;
    /** fcntl(fd, F_DUPFD_CLOEXEC, lowest): dup(2) with the close-on-exec flag set. */
    public static final int F_DUPFD_CLOEXEC = FREEBSD ? 17 : 1030;
    public static final int O_NONBLOCK = FREEBSD ? 0x4 : 0x800;
    public static final short POLLIN = 0x1;
    public static final short POLLOUT = 0x4;
    public static final short POLLERR = 0x8;
    public static final short POLLHUP = 0x10;
    public static final short POLLNVAL = 0x20;
    public static final int EINTR = 4;
    public static final int EBADF = 9;
    public static final int EAGAIN = FREEBSD ? 35 : 11;
    public static final int EINPROGRESS = FREEBSD ? 36 : 115;
    public static final int ENOTCONN = FREEBSD ? 57 : 107;
    public static final int ENOBUFS = FREEBSD ? 55 : 105;
    public static final int ERANGE = 34;
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EMFILE = 24; // the same on Linux and FreeBSD
    public static final int ESRCH = 3;
    public static final int ENOSYS = FREEBSD ? 78 : 38;
    public static final int EMSGSIZE = FREEBSD ? 40 : 90;
    public static final int MSG_PEEK = 0x2;
    public static final int MSG_TRUNC = FREEBSD ? 0x10 : 0x20;
    public static final int MSG_DONTWAIT = FREEBSD ? 0x80 : 0x40;
    public static final int MSG_NOSIGNAL = FREEBSD ? 0x20000 : 0x4000;
    public static final int MSG_CMSG_CLOEXEC = FREEBSD ? 0x40000 : 0x40000000;
    public static final int SCM_RIGHTS = 1;
    public static final int SOL_TCP = 6;
    public static final int TCP_ULP = 31;
    public static final int SOL_TLS = 282;
    public static final int TLS_TX = 1;
    public static final int TLS_RX = 2;
    public static final int EACCES = 13;
    public static final int EIO = 5;
    public static final int ETIMEDOUT = FREEBSD ? 60 : 110;
    public static final int EOPNOTSUPP = FREEBSD ? 45 : 95;
    public static final int NI_NUMERICHOST = FREEBSD ? 0x2 : 0x1;
    public static final int NI_NAMEREQD = FREEBSD ? 0x4 : 0x8;
    public static final int NI_MAXHOST = 1025;
    public static final int AI_CANONNAME = 0x2;
    /** struct sockaddr_storage is 128 bytes on both systems. */
    public static final int SOCKADDR_STORAGE_SIZE = 128;

    /** struct pollfd { int fd; short events; short revents; } -- the same on Linux and FreeBSD. */
    public static final StructLayout POLLFD = MemoryLayout.structLayout(
            JAVA_INT.withName("fd"), JAVA_SHORT.withName("events"), JAVA_SHORT.withName("revents"));

    /**
     * struct addrinfo: ai_addr and ai_canonname are swapped between glibc and FreeBSD, so the
     * layout is chosen by OS; both are 48 bytes on LP64.
     */
    public static final StructLayout ADDRINFO = FREEBSD
            ? MemoryLayout.structLayout(JAVA_INT.withName("ai_flags"), JAVA_INT.withName("ai_family"),
                JAVA_INT.withName("ai_socktype"), JAVA_INT.withName("ai_protocol"), JAVA_INT.withName("ai_addrlen"),
                MemoryLayout.paddingLayout(4), ADDRESS.withName("ai_canonname"), ADDRESS.withName("ai_addr"),
                ADDRESS.withName("ai_next"))
            : MemoryLayout.structLayout(JAVA_INT.withName("ai_flags"), JAVA_INT.withName("ai_family"),
                JAVA_INT.withName("ai_socktype"), JAVA_INT.withName("ai_protocol"), JAVA_INT.withName("ai_addrlen"),
                MemoryLayout.paddingLayout(4), ADDRESS.withName("ai_addr"), ADDRESS.withName("ai_canonname"),
                ADDRESS.withName("ai_next"));

    /** struct passwd: pw_uid and pw_gid sit at offsets 16 and 20 on both glibc and FreeBSD (LP64). */
    public static final long PASSWD_SIZE = 128; // >= sizeof(struct passwd) on both (glibc 48, FreeBSD 80)
    public static final long PW_NAME_OFFSET = 0;
    public static final long PW_UID_OFFSET = 16;
    public static final long PW_GID_OFFSET = 20;

    /** errno of this thread's last failed call through this class (or a failed SSL I/O call). */
    public static int errno() {
        return ErrnoCapture.last();
    }

    private static MemorySegment capture() {
        return ErrnoCapture.buffer();
    }

    /** Records errno after a call whose return value says it failed; success leaves it alone. */
    private static int check(int ret, MemorySegment state) {
        if (ret == -1) ErrnoCapture.record(state);
        return ret;
    }

    private static long check(long ret, MemorySegment state) {
        if (ret == -1) ErrnoCapture.record(state);
        return ret;
    }

    private static MethodHandle e(String name, FunctionDescriptor fd) {
        return B.bind(name, fd, ERRNO);
    }

    // --- sockets ---
    private static final MethodHandle socket$MH = e("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle socketpair$MH = e("socketpair", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle connect$MH = e("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle bind$MH = e("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle listen$MH = e("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle accept$MH = e("accept", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle getsockname$MH = e("getsockname", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle getpeername$MH = e("getpeername", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle setsockopt$MH = e("setsockopt", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle getsockopt$MH = e("getsockopt", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle shutdown$MH = e("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle sendmsg$MH = e("sendmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle recvmsg$MH = e("recvmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle send$MH = e("send", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle recv$MH = e("recv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));

    public static int socket(int domain, int type, int protocol) {
        MemorySegment s = capture();
        try { return check((int) socket$MH.invokeExact(s, domain, type, protocol), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int socketpair(int domain, int type, int protocol, MemorySegment sv) {
        MemorySegment s = capture();
        try { return check((int) socketpair$MH.invokeExact(s, domain, type, protocol, sv), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int connect(int fd, MemorySegment addr, int len) {
        MemorySegment s = capture();
        try { return check((int) connect$MH.invokeExact(s, fd, addr, len), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int bind(int fd, MemorySegment addr, int len) {
        MemorySegment s = capture();
        try { return check((int) bind$MH.invokeExact(s, fd, addr, len), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int listen(int fd, int backlog) {
        MemorySegment s = capture();
        try { return check((int) listen$MH.invokeExact(s, fd, backlog), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int accept(int fd, MemorySegment addr, MemorySegment lenp) {
        MemorySegment s = capture();
        try { return check((int) accept$MH.invokeExact(s, fd, addr, lenp), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int getsockname(int fd, MemorySegment addr, MemorySegment lenp) {
        MemorySegment s = capture();
        try { return check((int) getsockname$MH.invokeExact(s, fd, addr, lenp), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int getpeername(int fd, MemorySegment addr, MemorySegment lenp) {
        MemorySegment s = capture();
        try { return check((int) getpeername$MH.invokeExact(s, fd, addr, lenp), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int setsockopt(int fd, int level, int name, MemorySegment val, int len) {
        MemorySegment s = capture();
        try { return check((int) setsockopt$MH.invokeExact(s, fd, level, name, val, len), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int getsockopt(int fd, int level, int name, MemorySegment val, MemorySegment lenp) {
        MemorySegment s = capture();
        try { return check((int) getsockopt$MH.invokeExact(s, fd, level, name, val, lenp), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int shutdown(int fd, int how) {
        MemorySegment s = capture();
        try { return check((int) shutdown$MH.invokeExact(s, fd, how), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static long sendmsg(int fd, MemorySegment msg, int flags) {
        MemorySegment s = capture();
        try { return check((long) sendmsg$MH.invokeExact(s, fd, msg, flags), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static long recvmsg(int fd, MemorySegment msg, int flags) {
        MemorySegment s = capture();
        try { return check((long) recvmsg$MH.invokeExact(s, fd, msg, flags), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static long send(int fd, MemorySegment buf, long len, int flags) {
        MemorySegment s = capture();
        try { return check((long) send$MH.invokeExact(s, fd, buf, len, flags), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static long recv(int fd, MemorySegment buf, long len, int flags) {
        MemorySegment s = capture();
        try { return check((long) recv$MH.invokeExact(s, fd, buf, len, flags), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    // --- names ---
    /** hostlen/servlen are socklen_t in glibc but size_t in FreeBSD's netdb.h. */
    private static final MethodHandle getnameinfo$MH = B.bind("getnameinfo", FREEBSD
            ? FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT)
            : FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle getaddrinfo$MH = B.bind("getaddrinfo", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    // --- heap (stdlib.h; malloc_usable_size: glibc <malloc.h>, FreeBSD <malloc_np.h>) ---
    // Critical (no thread-state transition): they are called from OpenSSL's allocation hooks, many times per handshake.
    private static final MethodHandle malloc$MH = B.bind("malloc", FunctionDescriptor.of(ADDRESS, JAVA_LONG), Linker.Option.critical(false));
    private static final MethodHandle realloc$MH = B.bind("realloc", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG), Linker.Option.critical(false));
    private static final MethodHandle free$MH = B.bind("free", FunctionDescriptor.ofVoid(ADDRESS), Linker.Option.critical(false));
    private static final MethodHandle malloc_usable_size$MH = B.bind("malloc_usable_size", FunctionDescriptor.of(JAVA_LONG, ADDRESS),
            Linker.Option.critical(false));

    public static MemorySegment malloc(long size) {
        try { return (MemorySegment) malloc$MH.invokeExact(size); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment realloc(MemorySegment ptr, long size) {
        try { return (MemorySegment) realloc$MH.invokeExact(ptr, size); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static void free(MemorySegment ptr) {
        try { free$MH.invokeExact(ptr); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static long malloc_usable_size(MemorySegment ptr) {
        try { return (long) malloc_usable_size$MH.invokeExact(ptr); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    private static final MethodHandle freeaddrinfo$MH = B.bind("freeaddrinfo", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle gai_strerror$MH = B.bind("gai_strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle gethostname$MH = e("gethostname", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));

    public static int getnameinfo(MemorySegment sa, int salen, MemorySegment host, int hostlen, MemorySegment serv, int servlen, int flags) {
        try {
            return FREEBSD
                    ? (int) getnameinfo$MH.invokeExact(sa, salen, host, (long) hostlen, serv, (long) servlen, flags)
                    : (int) getnameinfo$MH.invokeExact(sa, salen, host, hostlen, serv, servlen, flags);
        } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int getaddrinfo(MemorySegment node, MemorySegment service, MemorySegment hints, MemorySegment res) {
        try { return (int) getaddrinfo$MH.invokeExact(node, service, hints, res); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static void freeaddrinfo(MemorySegment ai) {
        try { freeaddrinfo$MH.invokeExact(ai); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static String gai_strerror(int code) {
        try { return CStrings.read((MemorySegment) gai_strerror$MH.invokeExact(code)); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int gethostname(MemorySegment name, long len) {
        MemorySegment s = capture();
        try { return check((int) gethostname$MH.invokeExact(s, name, len), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    // --- file descriptors ---
    private static final MethodHandle close$MH = e("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle read$MH = e("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle write$MH = e("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle pipe$MH = e("pipe", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    /** nfds_t is unsigned long in glibc, unsigned int on FreeBSD (amd64 passes it in a 64-bit register either way). */
    private static final MethodHandle poll$MH = e("poll", FREEBSD
            ? FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT)
            : FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    /** fcntl(int fd, int cmd, ...) without a variadic argument (F_GETFL, F_GETFD). */
    private static final MethodHandle fcntl$MH = B.bind("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT),
            ERRNO, Linker.Option.firstVariadicArg(2));
    /** fcntl(int fd, int cmd, int arg) (F_SETFL, F_SETFD). */
    private static final MethodHandle fcntl$int$MH = B.bind("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
            ERRNO, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle strerror$MH = B.bind("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle getpid$MH = B.bind("getpid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle openlog$MH = B.bind("openlog", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT, JAVA_INT));
    /** syslog(int priority, const char *format, ...) called as syslog(p, "%s", message). */
    private static final MethodHandle syslog$MH = B.bind("syslog", FunctionDescriptor.ofVoid(JAVA_INT, ADDRESS, ADDRESS),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle setsid$MH = e("setsid", FunctionDescriptor.of(JAVA_INT));
    /** sighandler_t signal(int signum, sighandler_t handler) */
    private static final MethodHandle signal$MH = B.bind("signal", FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS));
    private static final MethodHandle open$MH = B.bind("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT),
            ERRNO, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle dup2$MH = e("dup2", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle umask$MH = B.bind("umask", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle unlink$MH = e("unlink", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle dup$MH = e("dup", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    /** long syscall(long number, ...): FreeBSD's rpctls_syscall has no libc wrapper. */
    private static final MethodHandle syscall$long$MH = B.bind("syscall", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG),
            ERRNO, Linker.Option.firstVariadicArg(1));
    /** keyctl(2) through syscall: long keyctl(int op, int serial, char *buf, size_t len) (no libkeyutils needed). */
    private static final MethodHandle syscall$keyctl$MH = B.bind("syscall", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG),
            ERRNO, Linker.Option.firstVariadicArg(1));
    private static final MethodHandle syscall$int$ptr$MH = B.bind("syscall", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, ADDRESS),
            ERRNO, Linker.Option.firstVariadicArg(1));
    /** syscall(number, int, int): Linux pidfd_open(pid, flags); syscall(number, int, long): prctl(option, arg2). */
    private static final MethodHandle syscall$int$int$MH = B.bind("syscall", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT),
            ERRNO, Linker.Option.firstVariadicArg(1));
    private static final MethodHandle syscall$int$long$MH = B.bind("syscall", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG),
            ERRNO, Linker.Option.firstVariadicArg(1));
    /** syscall(number, int, int, int): Linux pidfd_getfd(pidfd, targetfd, flags). */
    private static final MethodHandle syscall$int$int$int$MH = B.bind("syscall", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT),
            ERRNO, Linker.Option.firstVariadicArg(1));

    public static int close(int fd) {
        MemorySegment s = capture();
        try { return check((int) close$MH.invokeExact(s, fd), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static long read(int fd, MemorySegment buf, long n) {
        MemorySegment s = capture();
        try { return check((long) read$MH.invokeExact(s, fd, buf, n), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static long write(int fd, MemorySegment buf, long n) {
        MemorySegment s = capture();
        try { return check((long) write$MH.invokeExact(s, fd, buf, n), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int pipe(MemorySegment fds) {
        MemorySegment s = capture();
        try { return check((int) pipe$MH.invokeExact(s, fds), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    // --- epoll (Linux only: bound on first use, so that FreeBSD never looks the symbols up) ---
    public static final int EPOLL_CLOEXEC = 0x80000;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;
    public static final int EPOLL_CTL_MOD = 3;
    public static final int EPOLLONESHOT = 1 << 30;
    public static final int EEXIST = 17;
    /**
     * struct epoll_event { uint32_t events; epoll_data_t data; }: packed on x86_64 (12 bytes,
     * data at offset 4), naturally aligned elsewhere (16 bytes, data at 8).
     */
    public static final boolean EPOLL_PACKED = "amd64".equals(System.getProperty("os.arch")) || "x86_64".equals(System.getProperty("os.arch"));
    public static final long EPOLL_EVENT_SIZE = EPOLL_PACKED ? 12 : 16;
    public static final long EPOLL_EVENT_DATA = EPOLL_PACKED ? 4 : 8;

    private static final class Epoll {
        static final MethodHandle epoll_create1$MH = e("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        static final MethodHandle epoll_ctl$MH = e("epoll_ctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        static final MethodHandle epoll_wait$MH = e("epoll_wait", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    }

    public static int epoll_create1(int flags) {
        MemorySegment s = capture();
        try { return check((int) Epoll.epoll_create1$MH.invokeExact(s, flags), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    /** epoll_ctl with {@code event} an epoll_event of {@link #EPOLL_EVENT_SIZE} bytes (NULL for DEL). */
    public static int epoll_ctl(int epfd, int op, int fd, MemorySegment event) {
        MemorySegment s = capture();
        try { return check((int) Epoll.epoll_ctl$MH.invokeExact(s, epfd, op, fd, event), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int epoll_wait(int epfd, MemorySegment events, int maxEvents, int timeoutMillis) {
        MemorySegment s = capture();
        try { return check((int) Epoll.epoll_wait$MH.invokeExact(s, epfd, events, maxEvents, timeoutMillis), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    public static int poll(MemorySegment fds, long nfds, int timeoutMillis) {
        MemorySegment s = capture();
        try {
            return FREEBSD
                    ? check((int) poll$MH.invokeExact(s, fds, (int) nfds, timeoutMillis), s)
                    : check((int) poll$MH.invokeExact(s, fds, nfds, timeoutMillis), s);
        } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int fcntl(int fd, int cmd) {
        MemorySegment s = capture();
        try { return check((int) fcntl$MH.invokeExact(s, fd, cmd), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int fcntl(int fd, int cmd, int arg) {
        MemorySegment s = capture();
        try { return check((int) fcntl$int$MH.invokeExact(s, fd, cmd, arg), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static String strerror(int errnum) {
        try { return CStrings.read((MemorySegment) strerror$MH.invokeExact(errnum)); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static final int LOG_PID = 0x01;
    public static final int LOG_NDELAY = 0x08;
    public static final int LOG_DAEMON = 3 << 3;
    public static final int LOG_ERR = 3;
    public static final int LOG_WARNING = 4;
    public static final int LOG_NOTICE = 5;
    public static final int LOG_INFO = 6;
    public static final int LOG_DEBUG = 7;
    public static final int O_RDWR = 2;

    /** openlog(3); {@code ident} must stay allocated while syslog is used (a global-arena string). */
    public static void openlog(MemorySegment ident, int option, int facility) {
        try { openlog$MH.invokeExact(ident, option, facility); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static void syslog(int priority, MemorySegment format, MemorySegment message) {
        try { syslog$MH.invokeExact(priority, format, message); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static final int SIGHUP = 1;
    /** SIG_DFL is ((sighandler_t) 0) on glibc and FreeBSD. */
    public static final MemorySegment SIG_DFL = MemorySegment.NULL;

    public static MemorySegment signal(int signum, MemorySegment handler) {
        try { return (MemorySegment) signal$MH.invokeExact(signum, handler); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int setsid() {
        MemorySegment s = capture();
        try { return check((int) setsid$MH.invokeExact(s), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int open(MemorySegment path, int flags) {
        MemorySegment s = capture();
        try { return check((int) open$MH.invokeExact(s, path, flags), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int dup2(int from, int to) {
        MemorySegment s = capture();
        try { return check((int) dup2$MH.invokeExact(s, from, to), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int umask(int mask) {
        try { return (int) umask$MH.invokeExact(mask); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int unlink(MemorySegment path) {
        MemorySegment s = capture();
        try { return check((int) unlink$MH.invokeExact(s, path), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int dup(int fd) {
        MemorySegment s = capture();
        try { return check((int) dup$MH.invokeExact(s, fd), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    /** syscall(number, (uint64_t) arg): FreeBSD 15's rpctls_syscall(socookie). */
    public static int syscall(long number, long arg) {
        MemorySegment s = capture();
        try { return check((int) syscall$long$MH.invokeExact(s, number, arg), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    /** Linux keyctl(2) via syscall(SYS_keyctl, op, serial, buf, len). */
    public static long keyctl(long sysno, int op, int serial, MemorySegment buf, long len) {
        MemorySegment s = capture();
        try { return check((long) syscall$keyctl$MH.invokeExact(s, sysno, op, serial, buf, len), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    /** syscall(number, (int) op, (char *) path): FreeBSD 13/14's rpctls_syscall(op, path). */
    public static int syscall(long number, int op, MemorySegment path) {
        MemorySegment s = capture();
        try { return check((int) syscall$int$ptr$MH.invokeExact(s, number, op, path), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    // --- Linux pidfd (the emulated kernel's socket hand-over; see org.rpctls.upcall.EmulatedSocketSource) ---
    /** pidfd_open(2) and pidfd_getfd(2) (Linux 5.3 and 5.6): the same numbers on every architecture but alpha. */
    public static final long SYS_pidfd_open = 434;
    public static final long SYS_pidfd_getfd = 438;
    /** prctl(2): x86_64 157, aarch64 167; -1 elsewhere (not bound). */
    private static final long SYS_prctl = switch (System.getProperty("os.arch", "")) {
        case "amd64", "x86_64" -> 157;
        case "aarch64" -> 167;
        default -> -1;
    };
    /** Yama's prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY): any process of this user may ptrace (and pidfd_getfd from) this one. */
    public static final int PR_SET_PTRACER = 0x59616d61;
    public static final long PR_SET_PTRACER_ANY = -1L;

    /** A pidfd for process {@code pid} (close-on-exec). Linux only: FreeBSD's syscall 434 is something else. */
    public static int pidfd_open(int pid, int flags) {
        if (FREEBSD) throw new UnsupportedOperationException("pidfd_open is Linux-only");
        MemorySegment s = capture();
        try { return (int) check((long) syscall$int$int$MH.invokeExact(s, SYS_pidfd_open, pid, flags), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    /**
     * A duplicate, in this process, of descriptor {@code targetfd} of the process behind
     * {@code pidfd} (ptrace access mode ATTACH_REALCREDS is required); the new descriptor has
     * FD_CLOEXEC set by the kernel. Linux only.
     */
    public static int pidfd_getfd(int pidfd, int targetfd, int flags) {
        if (FREEBSD) throw new UnsupportedOperationException("pidfd_getfd is Linux-only");
        MemorySegment s = capture();
        try { return (int) check((long) syscall$int$int$int$MH.invokeExact(s, SYS_pidfd_getfd, pidfd, targetfd, flags), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    /** Linux prctl(option, arg2), on x86_64 and aarch64 (elsewhere UnsupportedOperationException). */
    public static int prctl(int option, long arg2) {
        if (FREEBSD || SYS_prctl < 0) throw new UnsupportedOperationException("prctl is not bound on " + System.getProperty("os.arch"));
        MemorySegment s = capture();
        try { return (int) check((long) syscall$int$long$MH.invokeExact(s, SYS_prctl, option, arg2), s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    public static int getpid() {
        try { return (int) getpid$MH.invokeExact(); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    // --- users and groups (for the -u certificate-to-user mapping) ---
    private static final MethodHandle getpwnam_r$MH = B.bind("getpwnam_r",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle getgrouplist$MH = B.bind("getgrouplist",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));

    /** Returns 0 or an errno value (not -1): that is getpwnam_r's own contract. */
    public static int getpwnam_r(MemorySegment name, MemorySegment pwd, MemorySegment buf, long buflen, MemorySegment result) {
        try { return (int) getpwnam_r$MH.invokeExact(name, pwd, buf, buflen, result); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int getgrouplist(MemorySegment user, int group, MemorySegment groups, MemorySegment ngroups) {
        try { return (int) getgrouplist$MH.invokeExact(user, group, groups, ngroups); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    /** Every symbol this class bound (all resolved when the class initialised). */
    public static List<String> boundSymbols() {
        return B.names();
    }
}
