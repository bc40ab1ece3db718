package org.rpctls.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.rpctls.sys.FdPoller;
import org.rpctls.ffi.LibC;
import org.rpctls.linux.LinuxHandshakeAgent;
import org.rpctls.netlink.GenericNetlink;
import org.rpctls.netlink.RawNetlinkSocket;
import org.rpctls.netlink.SeqpacketSocket;
import org.rpctls.rpc.RpcPrograms;
import org.rpctls.rpc.Rpctls;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.Role;
import org.rpctls.tls.TlsConfigException;
import org.rpctls.tls.TlsContext;
import org.rpctls.upcall.EmulatedSocketSource;
import org.rpctls.upcall.FreeBsdKernel;
import org.rpctls.upcall.LocalUpcallTransport;
import org.rpctls.upcall.NetlinkUpcallTransport;
import org.rpctls.upcall.RpctlscdProgram;
import org.rpctls.upcall.RpctlssdProgram;
import org.rpctls.upcall.SessionTable;
import org.rpctls.upcall.SocketSource;
import org.rpctls.upcall.UpcallHandler;
import org.rpctls.upcall.UpcallTransport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * A running rpc.tlsclntd / rpc.tlsservd against the FreeBSD kernel (real or emulated): the
 * pidfile, the TLS context, the upcall transport of the kernel's generation, signals.
 */
public final class Daemon {
    private static final Logger LOG = LoggerFactory.getLogger("rpctls");

    /** Emulated FreeBSD 15: the "rpc" family id and the groups' ids are fixed. */
    public static final int EMULATED_FAMILY_ID = 0x20;
    public static final int EMULATED_GROUP_CLIENT = 1;
    public static final int EMULATED_GROUP_SERVER = 2;

    private final DaemonOptions options;
    private final String prog;
    private final String rpcName;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final AtomicBoolean reloadPending = new AtomicBoolean();
    private volatile UpcallHandler handler;

    public Daemon(DaemonOptions options) {
        this.options = options;
        this.prog = DaemonOptions.progName(options.role());
        this.rpcName = options.role() == Role.CLIENT ? "rpctlscd" : "rpctlssd";
    }

    /** Which upcall generation to serve: the flag, else the emulated default, else the running kernel. */
    String generation() throws UsageException {
        if (options.upcall() != null) return options.upcall();
        if (options.emulatedKernel() != null) return "local";
        if (!LibC.FREEBSD) return "handshake"; // Linux: the generic netlink "handshake" upcall
        try {
            return FreeBsdKernel.osreldate() >= FreeBsdKernel.OSRELDATE_NETLINK ? "netlink" : "local";
        } catch (IOException e) {
            throw new UsageException(prog + ": cannot read kern.osreldate: " + e.getMessage(), 1);
        }
    }

    Path pidfilePath() {
        if (options.pidFile() != null) return options.pidFile();
        if (options.emulatedKernel() != null) return options.emulatedKernel().resolve(prog + ".pid");
        return Path.of("/var/run/" + prog + ".pid");
    }

    /** Runs until SIGTERM; returns the exit status. Start-up errors are printed errx-style to {@code err}. */
    public int run(java.io.PrintStream err, Runnable ready) {
        String generation;
        try {
            generation = generation();
        } catch (UsageException e) {
            err.println(e.getMessage());
            return e.exitCode();
        }
        Pidfile pidfile;
        try {
            pidfile = Pidfile.open(pidfilePath());
        } catch (Pidfile.AlreadyRunningException e) {
            err.printf("%s: %s %s%n", prog, rpcName, e.getMessage());
            return 1;
        } catch (IOException e) {
            // FreeBSD: other pidfile_open failures are only a warning
            err.printf("%s: cannot open or create pidfile %s: %s%n", prog, pidfilePath(), e.getMessage());
            pidfile = null;
        }
        if (generation.equals("handshake")) return runLinux(err, ready, pidfile);
        TlsContext ctx;
        try {
            ctx = TlsContext.create(options.tlsSettings());
        } catch (TlsConfigException e) {
            err.printf("%s: Can't set up TLS context: %s%n", prog, e.getMessage());
            if (pidfile != null) pidfile.close();
            return 1;
        }
        boolean netlink = generation.equals("netlink");
        int version = netlink ? Rpctls.VERSION_2 : Rpctls.VERSION_1;
        Path emu = options.emulatedKernel();
        SocketSource sockets;
        if (emu != null) {
            var emulated = new EmulatedSocketSource(emu);
            if (options.debugLevel() > 0 || options.verbose()) LOG.info("emulated kernel: {}", emulated.describe());
            sockets = emulated;
        } else {
            sockets = FreeBsdKernel.socketSource(options.role() == Role.SERVER, netlink);
        }
        Instant start = Instant.now();
        SessionTable sessions = new SessionTable(start.getEpochSecond(), start.getNano() / 1000);
        int slots = options.maxThreads() > 0 ? options.maxThreads() : Runtime.getRuntime().availableProcessors();
        var config = new UpcallHandler.Config(options.role(), options.mutual(), options.caFile() != null || options.caDir() != null,
                options.hostCheck(), !options.noKtlsCheck(), options.verbose(), Duration.ofSeconds(options.handshakeTimeout()), slots,
                options.serialHandshakes());
        handler = new UpcallHandler(config, ctx, sockets, sessions);
        RpcPrograms programs = new RpcPrograms();
        if (options.role() == Role.CLIENT) programs.register(Rpctls.RPCTLSCD, version, new RpctlscdProgram(handler, version));
        else programs.register(Rpctls.RPCTLSSD, version, new RpctlssdProgram(handler, version));

        UpcallTransport transport;
        try {
            transport = netlink ? netlinkTransport(emu) : localTransport(emu, slots);
            transport.start(programs);
        } catch (IOException | RuntimeException e) {
            err.printf("%s: Can't create transport for %s: %s%n", prog, netlink ? "netlink rpc " + groupName() : "local " + rpcName + " socket",
                    e.getMessage());
            ctx.close();
            if (pidfile != null) pidfile.close();
            return 1;
        }
        installSignals();
        if (pidfile != null) {
            try {
                pidfile.write();
            } catch (IOException e) {
                LOG.warn("cannot write pidfile {}: {}", pidfile.path(), e.getMessage());
            }
        }
        if (options.noKtlsCheck()) {
            LOG.warn("--no-ktls-check: connections without kernel TLS are accepted (emulated kernel only)");
        }
        // the shared poller's descriptors (epoll, wake pipe) exist from the start, not from the first
        // handshake that outwaits the direct wait: a daemon's descriptor count is flat from "started" on
        FdPoller.shared();
        LOG.info("{} started: {} version {}, {}; {} handshake slots{}; {}", prog, rpcName, version, transport.describe(), slots,
                options.serialHandshakes() ? ", one handshake at a time" : "",
                String.join(" ", options.describe()));
        var stats = new StatsReporter(options.statsInterval(), sessions::size);
        statsReporter = stats;
        stats.start();
        ready.run();
        // The main thread waits; SIGHUP reloads run on their own thread.
        while (true) {
            try {
                stopped.await();
                break;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        LOG.info("{} terminating on SIGTERM with {} live sessions", prog, sessions.size());
        handler.terminate();
        transport.close();
        stats.stop();
        if (emu == null && !netlink) {
            try {
                FreeBsdKernel.syscall(options.role() == Role.CLIENT ? FreeBsdKernel.RPCTLS_SYSC_CLSHUTDOWN : FreeBsdKernel.RPCTLS_SYSC_SRVSHUTDOWN, null);
            } catch (IOException e) {
                LOG.warn("rpctls_syscall SHUTDOWN: {}", e.getMessage());
            }
        }
        if (pidfile != null) pidfile.close();
        return 0;
    }

    private volatile LinuxHandshakeAgent linuxAgent;

    LinuxHandshakeAgent.Contexts linuxContexts() throws TlsConfigException {
        TlsContext x509 = TlsContext.create(options.linuxTlsSettings(options.mutual()));
        if (options.role() == Role.SERVER) return new LinuxHandshakeAgent.Contexts(x509, null);
        try {
            return new LinuxHandshakeAgent.Contexts(x509, TlsContext.create(options.linuxTlsSettings(false)));
        } catch (TlsConfigException e) {
            x509.close();
            throw e;
        }
    }

    /** Linux: serve the kernel's generic netlink "handshake" upcall. */
    private int runLinux(java.io.PrintStream err, Runnable ready, Pidfile pidfile) {
        LinuxHandshakeAgent.Contexts contexts;
        try {
            contexts = linuxContexts();
        } catch (TlsConfigException e) {
            err.printf("%s: Can't set up TLS context: %s%n", prog, e.getMessage());
            if (pidfile != null) pidfile.close();
            return 1;
        }
        int slots = options.maxThreads() > 0 ? options.maxThreads() : Runtime.getRuntime().availableProcessors();
        var agent = new LinuxHandshakeAgent(new LinuxHandshakeAgent.Config(options.role(), Duration.ofSeconds(options.handshakeTimeout()),
                slots, options.handoffDir(), options.verbose()), contexts);
        String where;
        try {
            where = agent.start();
        } catch (IOException e) {
            err.printf("%s: %s%n", prog, e.getMessage());
            agent.close();
            if (pidfile != null) pidfile.close();
            return 1;
        }
        linuxAgent = agent;
        installSignals();
        if (pidfile != null) {
            try {
                pidfile.write();
            } catch (IOException e) {
                LOG.warn("cannot write pidfile {}: {}", pidfile.path(), e.getMessage());
            }
        }
        FdPoller.shared();
        LOG.info("{} started: Linux handshake upcall ({} requests), {}; {} handshake slots; {}", prog,
                options.role() == Role.CLIENT ? "CLIENTHELLO" : "SERVERHELLO", where, slots, String.join(" ", options.describe()));
        var stats = new StatsReporter(options.statsInterval(), () -> -1);
        statsReporter = stats;
        stats.start();
        ready.run();
        while (true) {
            try {
                stopped.await();
                break;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        LOG.info("{} terminating on SIGTERM", prog);
        agent.close();
        stats.stop();
        if (pidfile != null) pidfile.close();
        return 0;
    }

    private String groupName() {
        return options.role() == Role.CLIENT ? "tlsclnt" : "tlsserv";
    }

    private UpcallTransport netlinkTransport(Path emu) throws IOException {
        if (emu != null) {
            Path bus = emu.resolve("rpcnl.sock");
            int group = options.role() == Role.CLIENT ? EMULATED_GROUP_CLIENT : EMULATED_GROUP_SERVER;
            // the reopener: the emulated bus may drop the daemon (FaultTest); it reconnects
            return new NetlinkUpcallTransport(SeqpacketSocket.connect(bus), () -> SeqpacketSocket.connect(bus), EMULATED_FAMILY_ID, group,
                    groupName());
        }
        var socket = RawNetlinkSocket.open();
        try {
            var family = GenericNetlink.resolve(socket, "rpc");
            Integer group = family.groups().get(groupName());
            if (group == null) throw new IOException("netlink family \"rpc\" has no group \"" + groupName() + "\" (groups " + family.groups() + ")");
            int familyId = family.id();
            // a socket that keeps failing is replaced by a new one; the family id does not change while the kernel runs
            return new NetlinkUpcallTransport(socket, RawNetlinkSocket::open, familyId, group, groupName());
        } catch (IOException e) {
            socket.close();
            throw e;
        } catch (org.rpctls.netlink.MalformedNetlinkException e) {
            socket.close();
            throw new IOException("resolving netlink family \"rpc\": " + e.getMessage());
        }
    }

    private UpcallTransport localTransport(Path emu, int slots) throws IOException {
        if (emu != null) {
            return new LocalUpcallTransport(List.of(emu.resolve(prog + ".sock")), () -> { });
        }
        boolean server = options.role() == Role.SERVER;
        List<Path> paths = new ArrayList<>();
        boolean slotted = false;
        if (server) {
            try {
                slotted = FreeBsdKernel.osreldate() >= FreeBsdKernel.OSRELDATE_SLOTS;
            } catch (IOException e) {
                slotted = false;
            }
        }
        if (slotted) {
            // 14.x: one socket per kernel slot (at most 16), all served by this one process
            for (int i = 0; i < Math.min(16, Math.max(1, slots)); i++) paths.add(Path.of("/var/run/rpc.tlsservd.sock." + i));
        } else {
            paths.add(Path.of("/var/run/" + prog + ".sock"));
        }
        boolean startup = slotted;
        return new LocalUpcallTransport(paths, () -> {
            try {
                if (startup) FreeBsdKernel.syscall(FreeBsdKernel.RPCTLS_SYSC_SRVSTARTUP, null);
                for (Path p : paths) {
                    FreeBsdKernel.syscall(server ? FreeBsdKernel.RPCTLS_SYSC_SRVSETPATH : FreeBsdKernel.RPCTLS_SYSC_CLSETPATH, p);
                }
            } catch (IOException e) {
                throw new IllegalStateException("rpctls_syscall SETPATH: " + e.getMessage()
                        + (e.getMessage().contains("errno 6") ? " (Kernel TLS not enabled: kern.ipc.tls.enable)" : ""));
            }
        });
    }

    /** Set once the daemon serves; SIGUSR1 before that logs nothing. */
    private volatile StatsReporter statsReporter;

    private void installSignals() {
        // The JVM leaves a signal alone that was ignored when it started (it honours nohup), so a
        // daemon started by nohup(1) or a supervisor that ignores SIGHUP would never reload.
        // FreeBSD's daemons install their SIGHUP handler unconditionally: so do we.
        org.rpctls.ffi.LibC.signal(org.rpctls.ffi.LibC.SIGHUP, org.rpctls.ffi.LibC.SIG_DFL);
        Signal.handle(new Signal("HUP"), s -> requestReload());
        Signal.handle(new Signal("TERM"), s -> stopped.countDown());
        // SIGUSR1: the stats line now (sessions, descriptors, upcall service times), as dnsmasq and others do
        Signal.handle(new Signal("USR1"), s -> {
            StatsReporter r = statsReporter;
            if (r != null) LOG.info(r.line());
        });
        if (options.debugLevel() == 0) {
            // FreeBSD ignores SIGINT and SIGQUIT when daemonized
            Signal.handle(new Signal("INT"), s -> { });
        } else {
            Signal.handle(new Signal("INT"), s -> stopped.countDown());
        }
    }

    /** SIGHUP: reload CRL, certificate and key; reloads that arrive during one are folded into the next. */
    void requestReload() {
        if (!reloadPending.compareAndSet(false, true)) return;
        Thread.ofVirtual().name("reload").start(() -> {
            try {
                Thread.sleep(Duration.ofMillis(250)); // FreeBSD's RELOADDELAY: at most one reload per 250 ms
            } catch (InterruptedException e) {
                return;
            }
            reloadPending.set(false);
            reload();
        });
    }

    /** Builds a fresh context from the same files; a bad file is logged and the old material stays. */
    public synchronized void reload() {
        if (linuxAgent != null) {
            try {
                linuxAgent.reload(linuxContexts());
                LOG.info("reloaded certificate, key{}", options.crlFile() != null ? " and CRL" : "");
            } catch (TlsConfigException e) {
                LOG.error("reload failed, keeping the current certificates and CRL: {}", e.getMessage());
            }
            return;
        }
        TlsContext fresh;
        try {
            fresh = TlsContext.create(options.tlsSettings());
        } catch (TlsConfigException e) {
            LOG.error("reload failed, keeping the current certificates and CRL: {}", e.getMessage());
            return;
        }
        int revoked = handler.reload(fresh);
        LOG.info("reloaded certificate, key{} ({} connection{} revoked)", options.crlFile() != null ? " and CRL" : "",
                revoked, revoked == 1 ? "" : "s");
    }

    /** Stops the daemon as SIGTERM does (for tests running it in-process). */
    public void stop() {
        stopped.countDown();
    }

    public UpcallHandler handler() {
        return handler;
    }

    static boolean exists(Path p) {
        return Files.exists(p);
    }
}
