package org.rpctls.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.rpctls.emulator.EmulatedKernel;
import org.rpctls.tls.Role;
import org.rpctls.tls.TlsSettings;

/**
 * Footprint and start-up of each daemon against the emulated kernel, without and with the
 * build's AOT cache (dist/lib/rpctls.aot). Run by tools/bench-footprint.
 *
 * <p>Ready = from starting the launcher (fork/exec) to the first NULL upcall the daemon answers
 * (the emulated kernel retries every 2 ms). Also printed: when its "started" log line was read,
 * and the CPU time (user + system, /proc/PID/stat) the JVM had used when ready. Idle RSS is
 * VmRSS 2 s after ready, and once per daemon and mode again after 12 s (the launcher's native
 * heap trim runs every 10 s).
 */
public final class Footprint {
    private Footprint() {}

    public static void main(String[] args) throws Exception {
        int runs = 7;
        int generation = 1;
        Path dist = Path.of(System.getProperty("rpctls.dist", "dist")).toAbsolutePath().normalize();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--generation" -> generation = Integer.parseInt(args[++i]);
                case "--dist" -> dist = Path.of(args[++i]).toAbsolutePath().normalize();
                default -> throw new IllegalArgumentException("usage: Footprint [--runs N] [--generation 1|2] [--dist DIR]");
            }
        }
        Path cache = dist.resolve("lib/rpctls.aot");
        boolean haveCache = Files.isRegularFile(cache) && Files.isRegularFile(dist.resolve("lib/rpctls.aot.jdk"));
        String extra = System.getenv().getOrDefault("RPCTLS_JAVA_OPTS", "");
        System.out.printf("footprint: %s, %d runs per case, generation %d, JDK %s, %s%s%n", Instant.now(), runs, generation,
                Runtime.version(), Probes.cpuModel(), extra.isBlank() ? "" : ", RPCTLS_JAVA_OPTS=\"" + extra + "\"");
        if (!haveCache) System.out.println("WARNING: no " + cache + " (build without -Drpctls.aot.skip): the AOT rows are missing");
        Path work = Files.createTempDirectory("rpctls-footprint");
        Path certDir = Files.createDirectories(work.resolve("certs"));
        Probes.run(work, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", certDir.resolve(TlsSettings.KEY_FILE).toString(), "-out", certDir.resolve(TlsSettings.CERT_FILE).toString(),
                "-days", "2", "-subj", "/CN=localhost");
        List<String> summary = new ArrayList<>();
        try {
            for (Role role : List.of(Role.SERVER, Role.CLIENT)) {
                for (boolean aot : haveCache ? List.of(false, true) : List.of(false)) {
                    String name = (role == Role.SERVER ? "rpc.tlsservd" : "rpc.tlsclntd") + (aot ? " AOT cache" : " no cache ");
                    long[] ready = new long[runs], started = new long[runs], cpu = new long[runs], rss = new long[runs];
                    long settled = 0;
                    for (int r = 0; r < runs; r++) {
                        Sample s = once(dist, role, generation, aot, certDir, work.resolve("emu-" + role + "-" + aot + "-" + r), r == 0);
                        ready[r] = s.readyNanos;
                        started[r] = s.startedNanos;
                        cpu[r] = s.cpuMillis;
                        rss[r] = s.rss;
                        if (r == 0) settled = s.settledRss;
                        System.out.printf("  %s run %d: ready %.0f ms (\"started\" line %.0f ms), CPU %d ms, RSS %.1f MiB%n", name, r + 1,
                                s.readyNanos / 1e6, s.startedNanos / 1e6, s.cpuMillis, s.rss / 1048576.0);
                    }
                    String line = String.format("%s  ready median %4.0f ms (min %4.0f)  \"started\" median %4.0f ms  CPU median %4d ms"
                                    + "  idle RSS median %5.1f MiB (after 12 s: %5.1f MiB)",
                            name, median(ready) / 1e6, Arrays.stream(ready).min().orElse(0) / 1e6, median(started) / 1e6, median(cpu),
                            median(rss) / 1048576.0, settled / 1048576.0);
                    System.out.println(line);
                    summary.add(line);
                }
            }
        } finally {
            Probes.deleteTree(work);
        }
        System.out.println();
        System.out.println("footprint: summary (ready = exec of the launcher to the first NULL upcall answered; RSS = VmRSS 2 s after ready)");
        summary.forEach(System.out::println);
    }

    record Sample(long readyNanos, long startedNanos, long cpuMillis, long rss, long settledRss) {}

    static Sample once(Path dist, Role role, int generation, boolean aot, Path certDir, Path dir, boolean settle) throws Exception {
        try (var kernel = new EmulatedKernel(dir, generation, 2_000)) {
            var pb = new ProcessBuilder(dist.resolve("bin").resolve(role == Role.SERVER ? "rpc.tlsservd" : "rpc.tlsclntd").toString(), "-d",
                    "--emulated-kernel=" + dir, "--upcall=" + (generation == 1 ? "local" : "netlink"), "--no-ktls-check", "-D", certDir.toString())
                    .redirectErrorStream(true);
            String opts = System.getenv().getOrDefault("RPCTLS_JAVA_OPTS", "");
            if (!aot) opts = (opts + " -XX:AOTMode=off").trim(); // the launcher then leaves its cache out too
            pb.environment().put("RPCTLS_JAVA_OPTS", opts);
            AtomicLong startedAt = new AtomicLong();
            List<String> log = new java.util.concurrent.CopyOnWriteArrayList<>();
            long t0 = System.nanoTime();
            Process p = pb.start();
            Thread.ofVirtual().start(() -> {
                try (var r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) {
                        if (l.contains(" started: ")) startedAt.compareAndSet(0, System.nanoTime());
                        log.add(l);
                    }
                } catch (IOException e) {
                    // ended
                }
            });
            try {
                long deadline = t0 + TimeUnit.SECONDS.toNanos(60);
                long readyAt;
                // v2: the bus knows when the daemon joined (polled every 20 ms); v1: NULL retried every 2 ms
                if (generation == 2) kernel.awaitDaemon(role, 1, java.time.Duration.ofSeconds(60));
                while (true) {
                    try {
                        kernel.nullCall(role);
                        readyAt = System.nanoTime();
                        break;
                    } catch (Exception e) {
                        if (!p.isAlive() || System.nanoTime() > deadline) {
                            throw new IllegalStateException("daemon not ready: " + e + "\n" + String.join("\n", log));
                        }
                        Thread.sleep(2);
                    }
                }
                long cpu = Probes.cpuMillis(p.pid());
                Thread.sleep(2_000);
                long rss = Probes.procStatus(p.pid())[0];
                long settled = 0;
                if (settle) {
                    Thread.sleep(10_000);
                    settled = Probes.procStatus(p.pid())[0];
                }
                while (startedAt.get() == 0 && p.isAlive()) Thread.sleep(5);
                return new Sample(readyAt - t0, startedAt.get() - t0, cpu, rss, settled);
            } finally {
                p.destroy();
                if (!p.waitFor(10, TimeUnit.SECONDS)) p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    static long median(long[] v) {
        long[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
