package org.rpctls.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
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
 * Held-sessions benchmark: a daemon (started from dist/bin against the emulated FreeBSD kernel)
 * holds N established TLS sessions; prints its memory per session and the HANDLERECORD and
 * DISCONNECT latencies at that size. Run by tools/bench-held.
 *
 * <p>Three processes, so that no process needs more descriptors than the host's hard limit
 * (20,000 here): this one is the kernel (one TCP socket per session, as the kernel keeps its
 * own reference); the daemon holds its copy of each socket and the SSL*; a child JVM ("peer")
 * is the NFS side of every connection (a real OpenSSL handshake through our engine) and obeys
 * line commands on its stdin: "open K" (K more connections), "close PORT" (send close_notify on
 * one), "quit". Connections are named by the port of their connecting end.
 *
 * <p>Memory per session is (value with N sessions - value at the baseline) / N, both taken
 * after a full GC in the daemon; the baseline follows a warm-up round of sessions that were
 * established, used and disconnected, so class loading and JIT are not charged to sessions.
 */
public final class Held {
    private Held() {}

    static final PrintStream OUT = System.out;

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--peer")) {
            Peer.main(args);
            return;
        }
        int sessions = 10_000;
        int records = 1_000;
        int warmup = 500;
        List<Integer> generations = List.of(1, 2);
        List<Role> roles = List.of(Role.SERVER);
        Path dist = Path.of(System.getProperty("rpctls.dist", "dist")).toAbsolutePath().normalize();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--sessions" -> sessions = Integer.parseInt(args[++i]);
                case "--records" -> records = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--generation" -> generations = switch (args[++i]) {
                    case "1" -> List.of(1);
                    case "2" -> List.of(2);
                    case "both" -> List.of(1, 2);
                    default -> throw new IllegalArgumentException("--generation 1|2|both");
                };
                case "--role" -> roles = switch (args[++i]) {
                    case "server" -> List.of(Role.SERVER);
                    case "client" -> List.of(Role.CLIENT);
                    case "both" -> List.of(Role.SERVER, Role.CLIENT);
                    default -> throw new IllegalArgumentException("--role server|client|both");
                };
                case "--dist" -> dist = Path.of(args[++i]).toAbsolutePath().normalize();
                default -> throw new IllegalArgumentException("unknown argument " + a
                        + "; usage: Held [--sessions N] [--records R] [--warmup W] [--generation 1|2|both] [--role server|client|both] [--dist DIR]");
            }
        }
        long limit = Probes.openFileLimit();
        if (limit > 0 && sessions + warmup + 200 > limit) {
            throw new IllegalStateException("open-file limit " + limit + " is too small for " + sessions + " sessions (+" + warmup
                    + " warm-up); raise it (ulimit -n) or pass --sessions");
        }
        records = Math.min(records, sessions);
        Path work = Files.createTempDirectory("rpctls-held");
        Path certDir = Files.createDirectories(work.resolve("certs"));
        Probes.run(work, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", certDir.resolve(TlsSettings.KEY_FILE).toString(), "-out", certDir.resolve(TlsSettings.CERT_FILE).toString(),
                "-days", "30", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1");
        OUT.printf("held: %s, %d sessions, %d HANDLERECORDs, %d warm-up sessions, JDK %s, %s%n", Instant.now(), sessions, records, warmup,
                Runtime.version(), Probes.cpuModel());
        List<String> summary = new ArrayList<>();
        try {
            for (Role role : roles) {
                for (int g : generations) {
                    summary.add(new Run(role, g, sessions, records, warmup, dist, certDir, work.resolve("emu-" + role + "-" + g)).run());
                }
            }
        } finally {
            Probes.deleteTree(work);
        }
        OUT.println();
        OUT.println("held: summary (per session = (at N - baseline) / N, after a full GC; latencies of the kernel's upcall, RPC round trip included)");
        summary.forEach(OUT::println);
    }

    /** One daemon, one generation: warm up, baseline, N sessions, measure, HANDLERECORDs, DISCONNECT all. */
    static final class Run {
        final Role role;
        final int generation;
        final int sessions;
        final int records;
        final int warmup;
        final Path dist;
        final Path certDir;
        final Path dir;
        final String name;

        Run(Role role, int generation, int sessions, int records, int warmup, Path dist, Path certDir, Path dir) {
            this.role = role;
            this.generation = generation;
            this.sessions = sessions;
            this.records = records;
            this.warmup = warmup;
            this.dist = dist;
            this.certDir = certDir;
            this.dir = dir;
            this.name = (role == Role.SERVER ? "rpc.tlsservd" : "rpc.tlsclntd") + " v" + generation;
        }

        /** A session as the kernel knows it. */
        record Session(SocketFd socket, EmulatedKernel.SessionRef ref, int port) {}

        String run() throws Exception {
            OUT.printf("%n== %s (%s) ==%n", name, generation == 1 ? "ONC RPC over AF_LOCAL" : "ONC RPC over netlink");
            try (var kernel = new EmulatedKernel(dir, generation);
                 var daemon = Daemon.start(dist, role, dir, generation, certDir);
                 var peer = Peer.start(role == Role.SERVER ? "client" : "server", certDir)) {
                kernel.awaitDaemon(role, 1, Duration.ofSeconds(20));
                kernel.nullCall(role);
                try (SocketFd listener = role == Role.SERVER
                        ? Sockets.listenTcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 4096) : null) {
                    Establisher est = new Establisher(kernel, peer, listener);
                    // warm-up round: establish, a few HANDLERECORDs, DISCONNECT all
                    List<Session> warm = est.establish(warmup);
                    latencies(kernel, peer, warm, Math.min(50, warm.size()), new Random(1));
                    disconnectAll(kernel, warm, new Random(2));
                    Mem base = daemon.measure();
                    OUT.printf("baseline (after %d warm-up sessions, GC): %s%n", warmup, base);

                    long t0 = System.nanoTime();
                    long cpu0 = Probes.cpuMillis(daemon.process.pid());
                    List<Session> held = est.establish(sessions);
                    double secs = (System.nanoTime() - t0) / 1e9;
                    double cpuPer = (Probes.cpuMillis(daemon.process.pid()) - cpu0) / (double) sessions;
                    OUT.printf("established %d sessions in %.1f s (%.0f handshakes/s, kernel upcalls %s); daemon CPU %.2f ms per CONNECT%n",
                            sessions, secs, sessions / secs, generation == 1 ? "serialised as in FreeBSD 13/14" : "concurrent", cpuPer);
                    Mem full = daemon.measure();
                    OUT.printf("with %d sessions (GC): %s%n", sessions, full);
                    Mem per = full.perSession(base, sessions);
                    OUT.printf("per session: %s%n", per.perSessionText());

                    long[][] lat = latencies(kernel, peer, held, records, new Random(42));
                    long[] hr = lat[0];
                    // The answered sessions are still held until their DISCONNECT: what a HANDLERECORD
                    // leaves allocated (OpenSSL's record buffers, unless given back) shows here.
                    Mem answered = daemon.measure();
                    OUT.printf("after %d HANDLERECORDs, all %d sessions still held (GC): %s%n", hr.length, sessions, answered);
                    OUT.printf("per answered session (%d): %s%n", hr.length, answered.perSession(full, hr.length).perSessionText());
                    long[] dc = disconnectAll(kernel, held, new Random(43));
                    OUT.printf("HANDLERECORD (close_notify) x%d at %d sessions: p50 %s p99 %s max %s%n", hr.length, sessions,
                            ms(pct(hr, 50)), ms(pct(hr, 99)), ms(pct(hr, 100)));
                    OUT.printf("DISCONNECT x%d from %d sessions down: p50 %s p99 %s max %s%n", dc.length, sessions, ms(pct(dc, 50)),
                            ms(pct(dc, 99)), ms(pct(dc, 100)));
                    String service = daemon.serviceTimes();
                    OUT.printf("daemon's own service time (decoded call to reply sent; SIGUSR1 stats line, warm-up included): %s%n", service);
                    Mem after = daemon.measure();
                    OUT.printf("after DISCONNECT of all (GC): %s%n", after);
                    if (daemon.hasLine("ERROR") || daemon.hasLine("Exception")) {
                        OUT.println("WARNING: the daemon logged errors:\n" + daemon.errorLines());
                    }
                    return String.format("%-16s N=%d  RSS %s/session  NMT committed %s/session (malloc %s)  glibc in use %s/session"
                                    + "  Java heap live %s/session  HANDLERECORD p50 %s p99 %s  DISCONNECT p50 %s p99 %s",
                            name, sessions, bytes(per.rss()), bytes(per.nmtCommitted()), bytes(per.nmtMalloc()), bytes(per.mallocInUse()),
                            bytes(per.heapLive()), ms(pct(hr, 50)), ms(pct(hr, 99)), ms(pct(dc, 50)), ms(pct(dc, 99)));
                }
            }
        }

        /** Establishes sessions: the peer opens K connections, the kernel hands each to the daemon (CONNECT). */
        final class Establisher {
            final EmulatedKernel kernel;
            final Peer peer;
            final SocketFd listener;

            Establisher(EmulatedKernel kernel, Peer peer, SocketFd listener) throws Exception {
                this.kernel = kernel;
                this.peer = peer;
                this.listener = listener;
                if (listener != null) peer.send("target " + Sockets.localAddress(listener.fd()).getPort());
            }

            List<Session> establish(int count) throws Exception {
                List<Session> out = Collections.synchronizedList(new ArrayList<>(count));
                AtomicReference<Throwable> failure = new AtomicReference<>();
                // v1 upcalls are serialised by the kernel anyway; v2 ones may overlap as in FreeBSD 15
                Semaphore inFlight = new Semaphore(generation == 1 ? 1 : 8);
                peer.send("open " + count);
                List<Thread> threads = new ArrayList<>();
                for (int i = 0; i < count && failure.get() == null; i++) {
                    inFlight.acquire();
                    SocketFd k;
                    if (role == Role.SERVER) {
                        k = Sockets.accept(listener, Duration.ofSeconds(60));
                    } else {
                        k = Sockets.connectTcp(peer.serverAddress, Duration.ofSeconds(60));
                    }
                    threads.add(Thread.ofVirtual().start(() -> {
                        try {
                            out.add(connect(k));
                        } catch (Throwable t) {
                            failure.compareAndSet(null, t);
                            k.close();
                        } finally {
                            inFlight.release();
                        }
                    }));
                }
                for (Thread t : threads) t.join();
                if (failure.get() != null) throw new IllegalStateException(name + ": CONNECT failed", failure.get());
                peer.await("opened " + count, Duration.ofMinutes(5));
                return new ArrayList<>(out);
            }

            Session connect(SocketFd k) throws Exception {
                if (role == Role.SERVER) {
                    int port = Sockets.peerAddress(k.fd()).getPort();
                    var r = kernel.serverConnect(k);
                    if (!r.replied() || (r.flags() & RpctlsFlags.HANDSHAKE) == 0 || (r.flags() & RpctlsFlags.DISABLED) != 0) {
                        throw new IllegalStateException("server CONNECT: replied " + r.replied() + " flags " + RpctlsFlags.describe(r.flags()));
                    }
                    return new Session(k, r.ref(), port);
                }
                int port = Sockets.localAddress(k.fd()).getPort();
                var r = kernel.clientConnect(k, "");
                if (r.reterr() != Rpctls.RPCTLSERR_OK) throw new IllegalStateException("client CONNECT: reterr " + r.reterr());
                return new Session(k, r.ref(), port);
            }
        }

        /**
         * {@code count} HANDLERECORDs on distinct random sessions: the peer sends its close_notify,
         * the kernel sees a record queued (as its receive path would), then the timed upcall.
         */
        long[][] latencies(EmulatedKernel kernel, Peer peer, List<Session> held, int count, Random rnd) throws Exception {
            List<Session> pick = new ArrayList<>(held);
            Collections.shuffle(pick, rnd);
            long[] hr = new long[count];
            for (int i = 0; i < count; i++) {
                Session h = pick.get(i);
                peer.send("close " + h.port());
                peer.await("closed " + h.port(), Duration.ofSeconds(30));
                if (EmulatedKernel.peekRecordType(h.socket(), Duration.ofSeconds(10)) < 0) {
                    throw new IllegalStateException("no record arrived from the peer on port " + h.port());
                }
                long t0 = System.nanoTime();
                int r = kernel.handleRecord(role, h.ref());
                hr[i] = System.nanoTime() - t0;
                if (r != Rpctls.RPCTLSERR_OK) throw new IllegalStateException("HANDLERECORD: reterr " + r);
            }
            return new long[][] {hr};
        }

        long[] disconnectAll(EmulatedKernel kernel, List<Session> held, Random rnd) throws Exception {
            List<Session> order = new ArrayList<>(held);
            Collections.shuffle(order, rnd);
            long[] dc = new long[order.size()];
            for (int i = 0; i < order.size(); i++) {
                Session h = order.get(i);
                long t0 = System.nanoTime();
                int r = kernel.disconnect(role, h.ref());
                dc[i] = System.nanoTime() - t0;
                if (r != Rpctls.RPCTLSERR_OK) throw new IllegalStateException("DISCONNECT: reterr " + r);
                h.socket().close();
            }
            return dc;
        }
    }

    // ---------------------------------------------------------------- the daemon under test

    /** The daemon, from the dist/bin launcher in the foreground, with NMT on; its log kept. */
    static final class Daemon implements AutoCloseable {
        final Process process;
        final List<String> lines = new CopyOnWriteArrayList<>();

        Daemon(Process process) {
            this.process = process;
            Thread.ofVirtual().start(() -> {
                try (var r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) {
                        // keep the first lines and anything unusual; 10,000 sessions of routine lines are not kept
                        if (lines.size() < 200 || l.contains("ERROR") || l.contains("Exception") || l.contains("stats: ")) lines.add(l);
                    }
                } catch (IOException e) {
                    // ended
                }
            });
        }

        static Daemon start(Path dist, Role role, Path dir, int generation, Path certDir) throws Exception {
            Path launcher = dist.resolve("bin").resolve(role == Role.SERVER ? "rpc.tlsservd" : "rpc.tlsclntd");
            if (!Files.isExecutable(launcher)) throw new IllegalStateException(launcher + " is missing: run tools/build first");
            var pb = new ProcessBuilder(launcher.toString(), "-d", "--emulated-kernel=" + dir, "--upcall=" + (generation == 1 ? "local" : "netlink"),
                    "--no-ktls-check", "-D", certDir.toString()).redirectErrorStream(true);
            String opts = System.getenv().getOrDefault("RPCTLS_JAVA_OPTS", "");
            pb.environment().put("RPCTLS_JAVA_OPTS", (opts + " -XX:NativeMemoryTracking=summary").trim());
            Daemon d = new Daemon(pb.start());
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!d.hasLine(" started: ")) {
                if (!d.process.isAlive() || System.nanoTime() > end) {
                    d.close();
                    throw new IllegalStateException(launcher + " did not start:\n" + String.join("\n", d.lines));
                }
                Thread.sleep(20);
            }
            OUT.println("daemon: " + d.lines.stream().filter(l -> l.contains(" started: ")).findFirst().orElseThrow());
            return d;
        }

        /**
         * The daemon's own HANDLERECORD and DISCONNECT service times, from the stats line it logs on
         * SIGUSR1: what the kernel would wait for, without this harness's share of each upcall.
         */
        String serviceTimes() throws Exception {
            int before = (int) lines.stream().filter(l -> l.contains("stats: ")).count();
            new ProcessBuilder("kill", "-USR1", Long.toString(process.pid())).inheritIO().start().waitFor();
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < end) {
                var stats = lines.stream().filter(l -> l.contains("stats: ")).toList();
                if (stats.size() > before) {
                    String l = stats.get(stats.size() - 1);
                    OUT.println("daemon: " + l);
                    return String.format("HANDLERECORD p50 %s p99 %s max %s (n=%s)  DISCONNECT p50 %s p99 %s max %s (n=%s)",
                            us(l, "handlerecord_p50_us"), us(l, "handlerecord_p99_us"), us(l, "handlerecord_max_us"), field(l, "handlerecord_n"),
                            us(l, "disconnect_p50_us"), us(l, "disconnect_p99_us"), us(l, "disconnect_max_us"), field(l, "disconnect_n"));
                }
                Thread.sleep(20);
            }
            return "no stats line after SIGUSR1";
        }

        private static String field(String line, String key) {
            var m = java.util.regex.Pattern.compile("\\b" + key + "=(\\d+)").matcher(line);
            return m.find() ? m.group(1) : "?";
        }

        private static String us(String line, String key) {
            String v = field(line, key);
            return v.equals("?") ? v : String.format("%.3f ms", Long.parseLong(v) / 1000.0);
        }

        boolean hasLine(String s) {
            return lines.stream().anyMatch(l -> l.contains(s));
        }

        String errorLines() {
            return String.join("\n", lines.stream().filter(l -> l.contains("ERROR") || l.contains("Exception")).limit(20).toList());
        }

        /** The daemon's memory after a full GC (the launcher execs java, so the pid is the JVM's). */
        Mem measure() throws Exception {
            long pid = process.pid();
            Probes.jcmd(pid, "GC.run");
            Thread.sleep(500);
            long heapLive = Probes.heapLive(Probes.jcmd(pid, "GC.class_histogram"));
            String nmt = Probes.jcmd(pid, "VM.native_memory", "summary");
            String heapInfo = Probes.jcmd(pid, "System.native_heap_info");
            var status = Probes.procStatus(pid);
            return new Mem(status[0], status[1], Probes.nmtTotal(nmt, "committed"), Probes.nmtMalloc(nmt), heapLive,
                    Probes.mallocInUse(heapInfo));
        }

        @Override
        public void close() throws InterruptedException {
            if (process.isAlive()) {
                process.destroy();
                if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /**
     * One snapshot of the daemon's memory, bytes: VmRSS and RssAnon (/proc/PID/status), NMT's
     * committed total and its malloc part (the JVM's own mallocs, FFM arenas included; not
     * OpenSSL's), the live Java heap (class histogram total), glibc's bytes in use (malloc_info:
     * arena system bytes - free chunks + mmapped chunks; every malloc in the process, OpenSSL's too).
     */
    record Mem(long rss, long rssAnon, long nmtCommitted, long nmtMalloc, long heapLive, long mallocInUse) {
        Mem perSession(Mem base, int n) {
            return new Mem((rss - base.rss) / n, (rssAnon - base.rssAnon) / n, (nmtCommitted - base.nmtCommitted) / n,
                    (nmtMalloc - base.nmtMalloc) / n, (heapLive - base.heapLive) / n, (mallocInUse - base.mallocInUse) / n);
        }

        String perSessionText() {
            return String.format("RSS %d B, RssAnon %d B, NMT committed %d B (NMT malloc %d B), Java heap live %d B, glibc malloc in use %d B",
                    rss, rssAnon, nmtCommitted, nmtMalloc, heapLive, mallocInUse);
        }

        @Override
        public String toString() {
            return String.format("RSS %s, RssAnon %s, NMT committed %s (malloc %s), Java heap live %s, glibc malloc in use %s", mib(rss),
                    mib(rssAnon), mib(nmtCommitted), mib(nmtMalloc), mib(heapLive), mib(mallocInUse));
        }
    }

    // ---------------------------------------------------------------- the peer process

    /** The NFS side of every connection, in a child JVM (its descriptors do not count against ours). */
    static final class Peer implements AutoCloseable {
        final Process process;
        final BufferedReader in;
        final PrintStream cmd;
        final InetSocketAddress serverAddress;

        Peer(Process process) throws IOException {
            this.process = process;
            this.in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            this.cmd = new PrintStream(process.getOutputStream(), true, StandardCharsets.UTF_8);
            String first = await("port ", Duration.ofSeconds(30));
            int port = Integer.parseInt(first.substring("port ".length()).trim());
            this.serverAddress = port == 0 ? null : new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
        }

        static Peer start(String mode, Path certDir) throws IOException {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            var pb = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xmx512m",
                    "-cp", System.getProperty("java.class.path"), Held.class.getName(), "--peer", mode, certDir.toString())
                    .redirectError(ProcessBuilder.Redirect.INHERIT);
            return new Peer(pb.start());
        }

        void send(String line) {
            cmd.println(line);
        }

        /** The next protocol line ("@@ ..."), which must start with {@code prefix}. */
        String await(String prefix, Duration timeout) throws IOException {
            // the reader blocks; the timeout is enforced by the peer's own deadlines and by killing it on close
            for (String l; (l = in.readLine()) != null; ) {
                if (!l.startsWith("@@ ")) continue; // anything a library printed
                String msg = l.substring(3);
                if (msg.startsWith(prefix)) return msg;
                throw new IllegalStateException("peer: expected \"" + prefix + "\", got \"" + msg + "\"");
            }
            throw new IllegalStateException("peer exited (" + (process.isAlive() ? "?" : process.exitValue()) + ") before \"" + prefix + "\"");
        }

        @Override
        public void close() throws InterruptedException {
            send("quit");
            if (!process.waitFor(30, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }

        /** The peer JVM: --peer client|server CERTDIR. */
        static void main(String[] args) throws Exception {
            boolean client = args[1].equals("client");
            Path certDir = Path.of(args[2]);
            PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
            TlsSettings settings = client ? TlsSettings.defaults(Role.CLIENT).withCertDir(certDir).withOwnCert(false)
                    : TlsSettings.defaults(Role.SERVER).withCertDir(certDir);
            Handshaker.Request req = Handshaker.Request.defaults().withTimeout(Duration.ofMinutes(2));
            var sessions = new ConcurrentHashMap<Integer, TlsSession>();
            try (TlsContext ctx = TlsContext.create(settings);
                 SocketFd listener = client ? null : Sockets.listenTcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 4096)) {
                out.println("@@ port " + (client ? 0 : Sockets.localAddress(listener.fd()).getPort()));
                InetSocketAddress target = null;
                var stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                for (String line; (line = stdin.readLine()) != null; ) {
                    String[] w = line.trim().split(" ");
                    switch (w[0]) {
                        case "target" -> target = new InetSocketAddress(InetAddress.getLoopbackAddress(), Integer.parseInt(w[1]));
                        case "open" -> {
                            int k = Integer.parseInt(w[1]);
                            Semaphore inFlight = new Semaphore(64);
                            AtomicInteger failed = new AtomicInteger();
                            AtomicReference<Throwable> first = new AtomicReference<>();
                            List<Thread> threads = new ArrayList<>();
                            for (int i = 0; i < k; i++) {
                                inFlight.acquire();
                                SocketFd fd = client ? Sockets.connectTcp(target, Duration.ofSeconds(60)) : Sockets.accept(listener, Duration.ofSeconds(120));
                                int port = client ? Sockets.localAddress(fd.fd()).getPort() : Sockets.peerAddress(fd.fd()).getPort();
                                threads.add(Thread.ofVirtual().start(() -> {
                                    try (fd) {
                                        sessions.put(port, Handshaker.handshake(ctx, fd, req));
                                    } catch (Throwable t) {
                                        failed.incrementAndGet();
                                        first.compareAndSet(null, t);
                                    } finally {
                                        inFlight.release();
                                    }
                                }));
                            }
                            for (Thread t : threads) t.join();
                            if (failed.get() > 0) {
                                out.println("@@ failed " + failed.get() + " handshakes, first: " + first.get());
                            } else {
                                out.println("@@ opened " + k);
                            }
                        }
                        case "close" -> {
                            TlsSession s = sessions.remove(Integer.parseInt(w[1]));
                            if (s == null) {
                                out.println("@@ unknown port " + w[1]);
                            } else {
                                s.close(); // close_notify, shutdown(SHUT_WR), close
                                out.println("@@ closed " + w[1]);
                            }
                        }
                        case "quit" -> {
                            sessions.values().forEach(TlsSession::close);
                            return;
                        }
                        default -> out.println("@@ unknown command " + line);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- formatting

    static long pct(long[] nanos, int p) {
        if (nanos.length == 0) return 0;
        long[] s = nanos.clone();
        java.util.Arrays.sort(s);
        int i = (int) Math.ceil(p / 100.0 * s.length) - 1;
        return s[Math.max(0, Math.min(s.length - 1, i))];
    }

    static String ms(long nanos) {
        return String.format("%.3f ms", nanos / 1e6);
    }

    static String mib(long b) {
        return String.format("%.1f MiB", b / 1048576.0);
    }

    static String bytes(long b) {
        return String.format("%d B (%.1f KiB)", b, b / 1024.0);
    }
}
