package org.rpctls.upcall;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.SystemCallException;
import org.rpctls.sys.SocketFd;

/**
 * The real FreeBSD kernel's side: kern.osreldate (which upcall generation it speaks) and
 * rpctls_syscall (syscall 576), which has no libc wrapper. Only meaningful on FreeBSD.
 */
public final class FreeBsdKernel {
    private FreeBsdKernel() {}

    public static final long SYS_rpctls_syscall = 576;
    public static final int RPCTLS_SYSC_CLSETPATH = 1;
    public static final int RPCTLS_SYSC_CLSOCKET = 2;
    public static final int RPCTLS_SYSC_CLSHUTDOWN = 3;
    public static final int RPCTLS_SYSC_SRVSETPATH = 4;
    public static final int RPCTLS_SYSC_SRVSOCKET = 5;
    public static final int RPCTLS_SYSC_SRVSHUTDOWN = 6;
    public static final int RPCTLS_SYSC_SRVSTARTUP = 7;
    /** 15.0-RELEASE: the first release whose kernel upcalls over netlink (15-CURRENT switched earlier: use --upcall). */
    public static final int OSRELDATE_NETLINK = 1500068;
    /** 14.x: several server daemons, sockets rpc.tlsservd.sock.N. */
    public static final int OSRELDATE_SLOTS = 1400000;

    /** kern.osreldate via sysctlbyname(3). */
    public static int osreldate() throws SystemCallException {
        MethodHandle sysctlbyname = Linker.nativeLinker().downcallHandle(
                Linker.nativeLinker().defaultLookup().find("sysctlbyname").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(JAVA_INT);
            MemorySegment len = arena.allocateFrom(JAVA_LONG, 4);
            int r = (int) sysctlbyname.invokeExact(arena.allocateFrom("kern.osreldate"), value, len, MemorySegment.NULL, 0L);
            if (r != 0) throw new SystemCallException("sysctlbyname(kern.osreldate)", LibC.EPERM);
            return value.get(JAVA_INT, 0);
        } catch (SystemCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("sysctlbyname", t);
        }
    }

    /** 13/14: rpctls_syscall(op, path). */
    public static void syscall(int op, Path path) throws SystemCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocateFrom(path == null ? "" : path.toString());
            if (LibC.syscall(SYS_rpctls_syscall, op, p) < 0) throw SystemCallException.lastError("rpctls_syscall(" + op + ")");
        }
    }

    /** The socket source of the running kernel: op CLSOCKET/SRVSOCKET (13/14) or the socket cookie (15). */
    public static SocketSource socketSource(boolean server, boolean netlink) {
        if (netlink) {
            return cookie -> {
                int fd = LibC.syscall(SYS_rpctls_syscall, cookie);
                if (fd < 0) throw SystemCallException.lastError("rpctls_syscall(socookie 0x" + Long.toHexString(cookie) + ")");
                return SocketFd.adopt(fd);
            };
        }
        int op = server ? RPCTLS_SYSC_SRVSOCKET : RPCTLS_SYSC_CLSOCKET;
        return cookie -> {
            try (Arena arena = Arena.ofConfined()) {
                int fd = LibC.syscall(SYS_rpctls_syscall, op, arena.allocateFrom(""));
                if (fd < 0) throw SystemCallException.lastError("rpctls_syscall(" + (server ? "SRVSOCKET" : "CLSOCKET") + ")");
                return SocketFd.adopt(fd);
            }
        };
    }
}
