package org.rpctls.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.rpctls.emulator.EmulatedKernel;
import org.rpctls.rpc.Rpctls;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.Sockets;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.Role;
import org.rpctls.tls.RpctlsFlags;
import org.rpctls.tls.TlsContext;
import org.rpctls.tls.TlsSession;
import org.rpctls.tls.TlsSettings;

/**
 * The handshake storm: a daemon (dist/bin launcher, its own process) serving the emulated
 * FreeBSD kernel, and N TCP connections at once each doing one full CONNECT upcall, whose far end
 * is this JVM's OpenSSL engine (the NFS client for rpc.tlsservd, the NFS server for
 * rpc.tlsclntd). For each generation (1: AF_LOCAL, 2: netlink), daemon, mode (concurrent, or
 * --serial-handshakes) and N it prints handshakes/s, upcall latency p50/p99, and the daemon
 * process's CPU per handshake (utime+stime from /proc/PID/stat over the measured window, after
 * a warm-up), and the ratio of that to the C floor given on the command line.
 *
 * <p>The peer handshakes and the emulated kernel run in this JVM on the same machine and take
 * CPU from the daemon; only the daemon's own CPU is attributed to it.
 *
 * <p>Usage: Storm --dist DIR --pki DIR --out DIR [--quick] [--mtls] [--generations 1,2]
 * [--roles server,client] [--modes concurrent,serial] [--n 1,10,100,1000]
 * [--floor-server US] [--floor-client US] [--min-handshakes H] [--warmup W]
 */
public final class Storm {
    private static final long CLOCK_TICKS_PER_SECOND = clockTicks();
    /** Generous: in serial mode and in generation 1 (where the kernel serialises upcalls) a connection may wait long. */
    private static final Duration PEER_TIMEOUT = Duration.ofSeconds(120);

    record Point(int generation, Role role, String mode, boolean mtls, int n, int handshakes, int failures, double seconds,
                 double perSecond, double p50Millis, double p99Millis, double daemonCpuMicros, double peerCpuMicros,
                 double floorMicros, Map<String, Double> threadMicros) {
        double ratio() {
            return floorMicros > 0 ? daemonCpuMicros / floorMicros : Double.NaN;
        }
    }

    private final Path dist;
    private final Path pki;
    private final Path out;
    private final boolean mtls;
    private final int minHandshakes;
    private final int warmup;
    private final Map<Role, Double> floor;
    private final PrintStream log = System.out;

    Storm(Path dist, Path pki, Path out, boolean mtls, int minHandshakes, int warmup, Map<Role, Double> floor) {
        this.dist = dist;
        this.pki = pki;
        this.out = out;
        this.mtls = mtls;
        this.minHandshakes = minHandshakes;
        this.warmup = warmup;
        this.floor = floor;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        List<String> flags = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String k = args[i];
            if (k.equals("--quick") || k.equals("--mtls")) flags.add(k);
            else if (k.startsWith("--") && i + 1 < args.length) a.put(k, args[++i]);
            else throw new IllegalArgumentException("unknown argument " + k);
        }
        boolean quick = flags.contains("--quick");
        Path dist = Path.of(a.getOrDefault("--dist", "dist")).toAbsolutePath();
        Path pki = Path.of(a.getOrDefault("--pki", "target/bench-pki")).toAbsolutePath();
        Path out = Files.createDirectories(Path.of(a.getOrDefault("--out", "target/bench-storm")).toAbsolutePath());
        int min = Integer.parseInt(a.getOrDefault("--min-handshakes", quick ? "150" : "600"));
        int warm = Integer.parseInt(a.getOrDefault("--warmup", quick ? "300" : "1000"));
        Map<Role, Double> floor = Map.of(Role.SERVER, Double.parseDouble(a.getOrDefault("--floor-server", "0")),
                Role.CLIENT, Double.parseDouble(a.getOrDefault("--floor-client", "0")));
        var storm = new Storm(dist, pki, out, flags.contains("--mtls"), min, warm, floor);
        List<Integer> generations = ints(a.getOrDefault("--generations", "1,2"));
        List<Role> roles = Arrays.stream(a.getOrDefault("--roles", "server,client").split(","))
                .map(r -> Role.valueOf(r.trim().toUpperCase(Locale.ROOT))).toList();
        List<String> modes = List.of(a.getOrDefault("--modes", "concurrent,serial").split(","));
        List<Integer> ns = ints(a.getOrDefault("--n", "1,10,100,1000"));
        storm.run(generations, roles, modes, ns);
    }

    static List<Integer> ints(String s) {
        return Arrays.stream(s.split(",")).map(String::trim).map(Integer::parseInt).toList();
    }

    void run(List<Integer> generations, List<Role> roles, List<String> modes, List<Integer> ns) throws Exception {
        log.printf("storm: %s, %d CPUs; %s; at least %d handshakes per point after %d warm-up handshakes per daemon%n",
                Instant.now(), Runtime.getRuntime().availableProcessors(), mtls ? "mTLS" : "server certificate only", minHandshakes, warmup);
        log.println("storm: the peers (OpenSSL engine in this JVM) and the emulated kernel share the machine's CPUs with the daemon;"
                + " daemon CPU is the daemon process's alone (/proc/PID/stat utime+stime), peer CPU is this JVM's");
        List<Point> points = new ArrayList<>();
        Path csv = out.resolve(mtls ? "storm-mtls.csv" : "storm.csv");
        try (var w = Files.newBufferedWriter(csv, StandardCharsets.UTF_8)) {
            w.write("generation,daemon,mode,mtls,n,handshakes,failures,seconds,handshakes_per_s,p50_ms,p99_ms,daemon_cpu_us,peer_cpu_us,"
                    + "floor_cpu_us,overhead_ratio," + String.join(",", THREAD_GROUPS.stream().map(g -> "daemon_" + g + "_us").toList()) + "\n");
            for (int g : generations) {
                for (Role role : roles) {
                    for (String mode : modes) {
                        for (Point p : daemonRun(g, role, mode, ns)) {
                            points.add(p);
                            w.write(String.format(Locale.ROOT, "%d,%s,%s,%s,%d,%d,%d,%.3f,%.1f,%.2f,%.2f,%.0f,%.0f,%.0f,%.2f",
                                    p.generation(), p.role() == Role.SERVER ? "rpc.tlsservd" : "rpc.tlsclntd", p.mode(), p.mtls() ? 1 : 0,
                                    p.n(), p.handshakes(), p.failures(), p.seconds(), p.perSecond(), p.p50Millis(), p.p99Millis(),
                                    p.daemonCpuMicros(), p.peerCpuMicros(), p.floorMicros(), p.ratio()));
                            for (String group : THREAD_GROUPS) w.write(String.format(Locale.ROOT, ",%.0f", p.threadMicros().getOrDefault(group, 0.0)));
                            w.write("\n");
                            w.flush();
                        }
                    }
                }
            }
        }
        summary(points);
        log.println("storm: results in " + csv);
    }

    private void summary(List<Point> points) {
        log.println();
        log.println("gen daemon        mode        mTLS     N    hs/s   p50 ms   p99 ms  daemon us/hs  floor us  ratio  peer us/hs  failures");
        for (Point p : points) {
            log.printf(Locale.ROOT, "%3d %-13s %-10s %4s %5d %7.0f %8.1f %8.1f %13.0f %9.0f %6.2f %11.0f %9d%n", p.generation(),
                    p.role() == Role.SERVER ? "rpc.tlsservd" : "rpc.tlsclntd", p.mode(), p.mtls() ? "yes" : "no", p.n(), p.perSecond(),
                    p.p50Millis(), p.p99Millis(), p.daemonCpuMicros(), p.floorMicros(), p.ratio(), p.peerCpuMicros(), p.failures());
        }
        log.println();
        log.println("throughput ratio concurrent/serial (same generation, daemon, N):");
        for (Point c : points) {
            if (!c.mode().equals("concurrent")) continue;
            for (Point s : points) {
                if (s.mode().equals("serial") && s.generation() == c.generation() && s.role() == c.role() && s.n() == c.n()) {
                    log.printf(Locale.ROOT, "  generation %d %-13s N=%-5d %.2f%n", c.generation(),
                            c.role() == Role.SERVER ? "rpc.tlsservd" : "rpc.tlsclntd", c.n(), c.perSecond() / s.perSecond());
                }
            }
        }
        // The overhead ratio at the largest N of the concurrent mode: steady state, most handshakes
        for (Role role : List.of(Role.SERVER, Role.CLIENT)) {
            points.stream().filter(p -> p.role() == role && p.mode().equals("concurrent") && p.floorMicros() > 0)
                    .mapToDouble(Point::ratio).average().ifPresent(r -> log.printf(Locale.ROOT,
                            "overhead %s (%s): mean over the concurrent points %.2f%n", role == Role.SERVER ? "server" : "client",
                            mtls ? "mTLS" : "no mTLS", r));
        }
    }

    // ---------------------------------------------------------------- one daemon

    private List<Point> daemonRun(int generation, Role role, String mode, List<Integer> ns) throws Exception {
        Path dir = Files.createTempDirectory("rpctls-storm");
        String tag = "g" + generation + "-" + (role == Role.SERVER ? "servd" : "clntd") + "-" + mode + (mtls ? "-mtls" : "");
        Path daemonLog = out.resolve("daemon-" + tag + ".log");
        List<Point> points = new ArrayList<>();
        try (var kernel = new EmulatedKernel(dir, generation, PEER_TIMEOUT.toMillis());
             var daemon = startDaemon(dir, generation, role, mode, daemonLog);
             var peer = TlsContext.create(peerSettings(role));
             var listener = Sockets.listenTcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 4096)) {
            kernel.awaitDaemon(role, 1, Duration.ofSeconds(20));
            var address = Sockets.localAddress(listener.fd());
            var storm = new Round(kernel, role, peer, listener, address);
            log.printf("-- generation %d, %s, %s: daemon pid %d, warm-up %d handshakes%n", generation,
                    role == Role.SERVER ? "rpc.tlsservd" : "rpc.tlsclntd", mode, daemon.pid(), warmup);
            storm.measure(Math.min(10, warmup), warmup, daemon.pid());
            for (int n : ns) {
                int total = Math.max(n, (minHandshakes + n - 1) / n * n);
                Measured m = storm.measure(n, total, daemon.pid());
                Point p = new Point(generation, role, mode, mtls, n, m.handshakes, m.failures, m.seconds, m.handshakes / m.seconds,
                        m.percentile(50), m.percentile(99), m.daemonCpuMicros / m.handshakes, m.peerCpuMicros / m.handshakes,
                        floor.get(role), perHandshake(m.threadTicks, m.handshakes));
                points.add(p);
                log.printf(Locale.ROOT, "   N=%-5d %5d handshakes in %.2f s: %.0f handshakes/s, upcall latency p50 %.1f ms p99 %.1f ms,"
                        + " daemon CPU %.0f us/handshake (ratio to C floor %.2f), peer+kernel CPU %.0f us/handshake%s%n",
                        n, m.handshakes, m.seconds, p.perSecond(), p.p50Millis(), p.p99Millis(), p.daemonCpuMicros(), p.ratio(),
                        p.peerCpuMicros(), m.failures > 0 ? ", " + m.failures + " FAILED" : "");
                log.printf(Locale.ROOT, "            daemon CPU by thread, us/handshake: %s%n", describe(p.threadMicros()));
            }
            if (!daemon.isAlive()) throw new IllegalStateException("the daemon died; see " + daemonLog);
        } finally {
            deleteTree(dir);
        }
        return points;
    }

    private TlsSettings peerSettings(Role daemonRole) {
        if (daemonRole == Role.SERVER) {
            // the NFS client: verifies the daemon's certificate, presents its own with mTLS
            return TlsSettings.defaults(Role.CLIENT).withCertDir(pki.resolve("clientdir")).withOwnCert(mtls)
                    .withCa(pki.resolve("ca.pem"), null);
        }
        // the NFS server: asks for the client certificate with mTLS
        TlsSettings s = TlsSettings.defaults(Role.SERVER).withCertDir(pki.resolve("serverdir"));
        return mtls ? s.withPeerCertRequest(true).withCa(pki.resolve("ca.pem"), null) : s;
    }

    private DaemonHandle startDaemon(Path dir, int generation, Role role, String mode, Path logFile) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(dist.resolve("bin").resolve(role == Role.SERVER ? "rpc.tlsservd" : "rpc.tlsclntd").toString());
        cmd.addAll(List.of("-d", "--emulated-kernel=" + dir, "--upcall=" + (generation == 1 ? "local" : "netlink"), "--no-ktls-check"));
        if (role == Role.SERVER) {
            cmd.addAll(List.of("-D", pki.resolve("serverdir").toString()));
            if (mtls) cmd.addAll(List.of("-m", "-l", pki.resolve("ca.pem").toString()));
        } else {
            cmd.addAll(List.of("-l", pki.resolve("ca.pem").toString()));
            if (mtls) cmd.addAll(List.of("-m", "-D", pki.resolve("clientdir").toString()));
        }
        if (mode.equals("serial")) cmd.add("--serial-handshakes");
        else if (!mode.equals("concurrent")) throw new IllegalArgumentException("mode " + mode);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(logFile.toFile()).start();
        var handle = new DaemonHandle(p);
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < end) {
            if (Files.readString(logFile).contains(" started: ")) return handle;
            if (!p.isAlive()) break;
            Thread.sleep(20);
        }
        handle.close();
        throw new IllegalStateException(String.join(" ", cmd) + " did not start:\n" + Files.readString(logFile));
    }

    record DaemonHandle(Process process) implements AutoCloseable {
        long pid() {
            return process.pid();
        }

        boolean isAlive() {
            return process.isAlive();
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    // ---------------------------------------------------------------- one measurement

    static final class Measured {
        int handshakes;
        int failures;
        double seconds;
        double daemonCpuMicros;
        double peerCpuMicros;
        long[] latencyNanos;
        Map<String, Long> threadTicks;

        double percentile(int pct) {
            long[] sorted = latencyNanos.clone();
            Arrays.sort(sorted);
            int i = (int) Math.ceil(pct / 100.0 * sorted.length) - 1;
            return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e6;
        }
    }

    /** Runs connections through the daemon, {@code n} at a time. */
    private final class Round {
        final EmulatedKernel kernel;
        final Role role;
        final TlsContext peer;
        final SocketFd listener;
        final InetSocketAddress address;

        Round(EmulatedKernel kernel, Role role, TlsContext peer, SocketFd listener, InetSocketAddress address) {
            this.kernel = kernel;
            this.role = role;
            this.peer = peer;
            this.listener = listener;
            this.address = address;
        }

        /**
         * {@code total} CONNECTs in rounds of {@code n} concurrent ones. The TCP pairs are made
         * beforehand and the sessions disconnected afterwards, outside the measured window.
         */
        Measured measure(int n, int total, long pid) throws Exception {
            // [i][0] the kernel's end, [i][1] the peer's end
            SocketFd[][] pairs = new SocketFd[total][];
            for (int i = 0; i < total; i++) {
                SocketFd c = Sockets.connectTcp(address, Duration.ofSeconds(10));
                SocketFd acc = Sockets.accept(listener, Duration.ofSeconds(10));
                // rpc.tlsservd's socket is the accepted end (the NFS client connected); rpc.tlsclntd's the connecting end
                pairs[i] = role == Role.SERVER ? new SocketFd[] {acc, c} : new SocketFd[] {c, acc};
            }
            EmulatedKernel.SessionRef[] refs = new EmulatedKernel.SessionRef[total];
            TlsSession[] peerSessions = new TlsSession[total];
            long[] latency = new long[total];
            AtomicInteger failures = new AtomicInteger();
            Map<Integer, ThreadTicks> threads0 = threadTicks(pid);
            long daemon0 = cpuTicks(pid);
            long self0 = cpuTicks(ProcessHandle.current().pid());
            long t0 = System.nanoTime();
            for (int start = 0; start < total; start += n) {
                int end = Math.min(total, start + n);
                var done = new CountDownLatch(end - start);
                for (int i = start; i < end; i++) {
                    int k = i;
                    Thread.ofVirtual().start(() -> {
                        try {
                            one(pairs[k], k, refs, peerSessions, latency, failures);
                        } finally {
                            done.countDown();
                        }
                    });
                }
                if (!done.await(4, TimeUnit.MINUTES)) throw new IllegalStateException("storm round did not end within 4 minutes (daemon hung?)");
            }
            long t1 = System.nanoTime();
            long daemon1 = cpuTicks(pid);
            Map<Integer, ThreadTicks> threads1 = threadTicks(pid);
            long self1 = cpuTicks(ProcessHandle.current().pid());
            // outside the window: DISCONNECT every session, close every descriptor
            for (int i = 0; i < total; i++) {
                if (refs[i] != null) {
                    try {
                        kernel.disconnect(role, refs[i]);
                    } catch (Exception e) {
                        failures.incrementAndGet();
                    }
                }
                if (peerSessions[i] != null) peerSessions[i].abandon();
                for (SocketFd fd : pairs[i]) fd.close();
            }
            var m = new Measured();
            m.handshakes = total;
            m.failures = failures.get();
            m.seconds = (t1 - t0) / 1e9;
            m.daemonCpuMicros = (daemon1 - daemon0) * 1e6 / CLOCK_TICKS_PER_SECOND;
            m.peerCpuMicros = (self1 - self0) * 1e6 / CLOCK_TICKS_PER_SECOND;
            m.latencyNanos = latency;
            m.threadTicks = groupDelta(threads0, threads1);
            return m;
        }

        private void one(SocketFd[] pair, int k, EmulatedKernel.SessionRef[] refs, TlsSession[] peerSessions, long[] latency,
                         AtomicInteger failures) {
            var request = Handshaker.Request.defaults().withTimeout(PEER_TIMEOUT);
            var peerDone = new CompletableFuture<TlsSession>();
            Thread.ofVirtual().start(() -> {
                try {
                    peerDone.complete(Handshaker.handshake(peer, pair[1], request));
                } catch (Throwable t) {
                    peerDone.completeExceptionally(t);
                }
            });
            try {
                long t = System.nanoTime();
                boolean ok;
                if (role == Role.SERVER) {
                    var r = kernel.serverConnect(pair[0]);
                    latency[k] = System.nanoTime() - t;
                    ok = r.replied() && (r.flags() & RpctlsFlags.HANDSHAKE) != 0 && (r.flags() & RpctlsFlags.DISABLED) == 0;
                    if (ok) refs[k] = r.ref();
                } else {
                    var r = kernel.clientConnect(pair[0], "");
                    latency[k] = System.nanoTime() - t;
                    ok = r.reterr() == Rpctls.RPCTLSERR_OK;
                    if (ok) refs[k] = r.ref();
                }
                peerSessions[k] = peerDone.get(PEER_TIMEOUT.toSeconds() + 10, TimeUnit.SECONDS);
                if (!ok) failures.incrementAndGet();
            } catch (Exception e) {
                failures.incrementAndGet();
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    /**
     * Where the daemon's CPU goes, by thread: "carriers" the virtual threads' carrier threads
     * (OpenSSL and all the upcall code, RPC decoding included), "jit" the C1/C2 compilers, "gc"
     * the collector and VM thread, "poller" the FdPoller, "netlink" generation 2's reader
     * thread, "other" the rest. A thread that ended within the
     * window is missing, so the groups may add up to a little less than the process total.
     */
    static final List<String> THREAD_GROUPS = List.of("carriers", "jit", "gc", "poller", "netlink", "other");

    record ThreadTicks(String name, long ticks) {}

    static String group(String threadName) {
        if (threadName.startsWith("ForkJoinPool") || threadName.startsWith("VirtualThread")) return "carriers";
        if (threadName.contains("CompilerThre")) return "jit";
        if (threadName.startsWith("VM Thread") || threadName.startsWith("GC Thread") || threadName.startsWith("G1")) return "gc";
        if (threadName.startsWith("rpctls-poller")) return "poller";
        if (threadName.startsWith("netlink")) return "netlink";
        return "other";
    }

    static Map<Integer, ThreadTicks> threadTicks(long pid) {
        Map<Integer, ThreadTicks> m = new java.util.HashMap<>();
        try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path t : tasks.toList()) {
                try {
                    String stat = Files.readString(t.resolve("stat"));
                    String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    m.put(Integer.parseInt(t.getFileName().toString()), new ThreadTicks(name, Long.parseLong(f[11]) + Long.parseLong(f[12])));
                } catch (IOException | RuntimeException e) {
                    // the thread ended meanwhile
                }
            }
        } catch (IOException e) {
            // the process ended
        }
        return m;
    }

    static Map<String, Long> groupDelta(Map<Integer, ThreadTicks> before, Map<Integer, ThreadTicks> after) {
        Map<String, Long> g = new LinkedHashMap<>();
        for (var e : after.entrySet()) {
            long start = before.containsKey(e.getKey()) ? before.get(e.getKey()).ticks() : 0;
            g.merge(group(e.getValue().name()), e.getValue().ticks() - start, Long::sum);
        }
        return g;
    }

    static Map<String, Double> perHandshake(Map<String, Long> ticks, int handshakes) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (String g : THREAD_GROUPS) m.put(g, ticks.getOrDefault(g, 0L) * 1e6 / CLOCK_TICKS_PER_SECOND / handshakes);
        return m;
    }

    static String describe(Map<String, Double> micros) {
        StringBuilder b = new StringBuilder();
        for (var e : micros.entrySet()) b.append(b.isEmpty() ? "" : ", ").append(e.getKey()).append(' ').append(Math.round(e.getValue()));
        return b.toString();
    }

    /** utime + stime of process {@code pid}, all threads, in clock ticks (/proc/PID/stat fields 14 and 15). */
    static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        // the command name (field 2) is in parentheses and may contain spaces
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    private static long clockTicks() {
        try {
            Process p = new ProcessBuilder("getconf", "CLK_TCK").start();
            String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
            p.waitFor();
            return Long.parseLong(s);
        } catch (Exception e) {
            return 100;
        }
    }

    static void deleteTree(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary directory: best effort
        }
    }
}
