package org.rpctls.upcall;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.SystemCallException;
import org.rpctls.sys.SocketFd;

/**
 * The emulated kernel's rpctls_syscall (--emulated-kernel DIR). A real FreeBSD kernel hands over
 * an upcall's socket in one system call; so does this, where it can: the socket is looked up and
 * taken in the emulator's shared claim table (DIR/broker.tab, {@link ClaimTable}) and its
 * descriptor copied out of the emulator with pidfd_getfd(2). Where it cannot (no table: the
 * emulator forces the broker; pidfd_getfd missing or refused: an old kernel, Yama, another
 * user), the claim goes through the Unix-socket broker (DIR/broker.sock, {@link BrokerSocketSource}),
 * which costs a connect, a sendmsg, a recvmsg and a thread switch in the emulator per socket;
 * the handshake storm benchmark then measures the emulator as much as the daemon.
 */
public final class EmulatedSocketSource implements SocketSource {
    private static final int PID = LibC.getpid();

    private final Path tableFile;
    private final BrokerSocketSource broker;
    private final String description;
    /** The table in use, or null: the broker. */
    private volatile Attached attached;

    private record Attached(ClaimTable table, int emulatorPid, int pidfd) {}

    public EmulatedSocketSource(Path dir) {
        this.tableFile = dir.resolve(ClaimTable.FILE_NAME);
        this.broker = new BrokerSocketSource(dir.resolve("broker.sock"));
        String why = null;
        try {
            attached = attach(tableFile);
        } catch (IOException | RuntimeException e) {
            why = e.getMessage();
        }
        description = why == null
                ? "socket hand-over by pidfd_getfd(2) from the claim table " + tableFile
                : "socket hand-over through the broker " + dir.resolve("broker.sock") + " (" + why + ")";
    }

    /** One line for the start-up log: which hand-over, and why not the fast one. */
    public String describe() {
        return description;
    }

    /** True while claims go through the claim table and pidfd_getfd. */
    public boolean usesClaimTable() {
        return attached != null;
    }

    private static Attached attach(Path file) throws IOException {
        if (LibC.FREEBSD) throw new IOException("pidfd_getfd(2) is Linux-only");
        if (!Files.exists(file)) throw new IOException("no " + file.getFileName());
        ClaimTable table = ClaimTable.open(file);
        int pid = table.emulatorPid();
        int pidfd = LibC.pidfd_open(pid, 0);
        if (pidfd < 0) throw SystemCallException.lastError("pidfd_open(" + pid + ")");
        // Probe once: descriptor -1 names nothing, so EBADF means "allowed"; EPERM is a refused
        // ptrace access check (Yama, another user), ENOSYS a kernel before 5.6.
        int probe = LibC.pidfd_getfd(pidfd, -1, 0);
        int errno = LibC.errno();
        if (probe >= 0 || errno != LibC.EBADF) {
            if (probe >= 0) LibC.close(probe);
            LibC.close(pidfd);
            throw new SystemCallException("pidfd_getfd", probe >= 0 ? LibC.EBADF : errno);
        }
        return new Attached(table, pid, pidfd);
    }

    /**
     * A new emulator in the same directory (the old one closed its table): map its table, or use
     * the broker if it has none. The old pidfd stays open (a claim in flight may still use it).
     */
    private synchronized Attached reattach(Attached old) {
        if (attached != old) return attached;
        Attached a;
        try {
            a = attach(tableFile);
        } catch (IOException | RuntimeException e) {
            a = null;
        }
        attached = a;
        return a;
    }

    @Override
    public SocketFd claim(long cookie) throws IOException {
        Attached a = attached;
        if (a != null && !a.table().isOpen()) a = reattach(a);
        if (a == null) return broker.claim(cookie);
        int slot = a.table().claim(cookie, PID);
        if (slot < 0) {
            // as rpctls_syscall when the cookie is not in the kernel's tree (and as the broker answers)
            throw new SystemCallException("rpctls_syscall (emulated, cookie 0x" + Long.toHexString(cookie) + ")", LibC.EPERM);
        }
        int fd;
        int errno;
        try {
            // pidfd_getfd sets FD_CLOEXEC on the new descriptor itself, as recvmsg with MSG_CMSG_CLOEXEC did
            fd = LibC.pidfd_getfd(a.pidfd(), a.table().fd(slot), 0);
            errno = fd < 0 ? LibC.errno() : 0;
        } finally {
            // the socket left the "kernel's tree" either way, as in rpctls_syscall, whose falloc can fail after the lookup
            a.table().finish(slot);
        }
        if (fd >= 0) return SocketFd.adopt(fd);
        if (errno == LibC.EMFILE) {
            // the real rpctls_syscall fails with EMFILE in falloc; the same words as the broker's path (FaultTest)
            throw new SystemCallException("rpctls_syscall (emulated, cookie 0x" + Long.toHexString(cookie)
                    + "): the socket's descriptor could not be received", LibC.EMFILE);
        }
        throw new SystemCallException("rpctls_syscall (emulated, cookie 0x" + Long.toHexString(cookie) + "): pidfd_getfd", errno);
    }
}
