package org.rpctls.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.rpctls.tls.Role;

/** A daemon started from the built launcher (dist/bin), in the foreground (-d), its log lines collected. */
public final class DaemonProcess implements AutoCloseable {
    public static final Path DIST = Path.of(System.getProperty("rpctls.dist", "../dist")).toAbsolutePath().normalize();

    private final Process process;
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final List<String> command;

    private DaemonProcess(List<String> command) throws IOException {
        this.command = command;
        this.process = new ProcessBuilder(command).redirectErrorStream(true).start();
        Thread.ofVirtual().start(() -> {
            try (var r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) lines.add(l);
            } catch (IOException e) {
                // ended
            }
        });
    }

    public static Path launcher(Role role) {
        Path p = DIST.resolve("bin").resolve(role == Role.CLIENT ? "rpc.tlsclntd" : "rpc.tlsservd");
        if (!Files.isExecutable(p)) throw new AssertionError(p + " is missing: build with tools/build (mvn install) first");
        return p;
    }

    /** Starts the daemon with {@code args}; does not wait. */
    public static DaemonProcess start(Role role, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(launcher(role).toString());
        cmd.addAll(List.of(args));
        return new DaemonProcess(cmd);
    }

    /** Starts the daemon with SIGHUP ignored, as nohup(1) or some supervisors leave it (the disposition survives exec). */
    public static DaemonProcess startIgnoringSighup(Role role, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("sh", "-c", "trap '' HUP; exec \"$0\" \"$@\"", launcher(role).toString()));
        cmd.addAll(List.of(args));
        return new DaemonProcess(cmd);
    }

    /** Starts the daemon in the foreground against an emulated kernel and waits for its "started" line. */
    public static DaemonProcess startEmulated(Role role, Path dir, String... args) throws IOException, InterruptedException {
        List<String> all = new ArrayList<>(List.of("-d", "--emulated-kernel=" + dir));
        all.addAll(List.of(args));
        DaemonProcess d = start(role, all.toArray(String[]::new));
        d.awaitLine(l -> l.contains(" started: "), Duration.ofSeconds(20));
        return d;
    }

    public String awaitLine(Predicate<String> match, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            for (String l : lines) if (match.test(l)) return l;
            if (!process.isAlive()) {
                Thread.sleep(100);
                for (String l : lines) if (match.test(l)) return l;
                throw new AssertionError(String.join(" ", command) + " exited (" + process.exitValue() + "):\n" + log());
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no matching line from " + String.join(" ", command) + " within " + timeout + ":\n" + log());
    }

    public String awaitLine(String contains) throws InterruptedException {
        return awaitLine(l -> l.contains(contains), Duration.ofSeconds(20));
    }

    public boolean hasLine(String contains) {
        return lines.stream().anyMatch(l -> l.contains(contains));
    }

    public String log() {
        return String.join("\n", lines);
    }

    public long pid() {
        return process.pid();
    }

    /** The JVM's pid: the launcher execs java in the foreground, so it is the same process. */
    public void signal(String name) throws IOException, InterruptedException {
        Process k = new ProcessBuilder("kill", "-" + name, String.valueOf(process.pid())).start();
        k.waitFor();
    }

    public int waitFor(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError(String.join(" ", command) + " still running after " + timeout + ":\n" + log());
        }
        Thread.sleep(50);
        return process.exitValue();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroy();
            try {
                if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
