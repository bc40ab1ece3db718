package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.rpctls.tls.Role;

/** What ships besides the code: launchers, man pages (mandoc lint), rc.d scripts (sh -n). */
class PackagingTest {
    static final Path ROOT = DaemonProcess.DIST.getParent();

    static String run(int expectedExit, String... cmd) throws Exception {
        PeerProcess.requireTool(cmd[0]);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(expectedExit, p.waitFor(), String.join(" ", cmd) + ":\n" + out);
        return out;
    }

    @Test
    void manPagesAreCleanMdoc() throws Exception {
        for (String page : new String[] {"man8/rpc.tlsclntd.8", "man8/rpc.tlsservd.8"}) {
            Path p = DaemonProcess.DIST.resolve("man").resolve(page);
            assertTrue(Files.exists(p), p + " is installed by the build");
            run(0, "mandoc", "-T", "lint", "-W", "warning", p.toString());
        }
    }

    @Test
    void rcScriptsParse() throws Exception {
        for (String s : new String[] {"rc.d/tlsclntd", "rc.d/tlsservd"}) {
            Path p = ROOT.resolve(s);
            run(0, "sh", "-n", p.toString());
            String text = Files.readString(p);
            assertTrue(text.contains("# PROVIDE: " + p.getFileName()), s);
            assertTrue(text.contains("extra_commands=\"reload\""), s);
            assertTrue(text.contains("pidfile=\"/var/run/rpc.${name}.pid\""), s);
        }
        assertTrue(Files.readString(ROOT.resolve("rc.d/tlsservd")).contains("# BEFORE: nfsd"));
        assertTrue(Files.readString(ROOT.resolve("rc.d/tlsclntd")).contains("# BEFORE: nfscbd"));
    }

    @Test
    void launchersRunWithoutWarningsAndReportStartupErrors() throws Exception {
        for (Role role : Role.values()) {
            String out = run(0, DaemonProcess.launcher(role).toString(), "--version");
            assertTrue(out.startsWith(role == Role.CLIENT ? "rpc.tlsclntd (rpctls " : "rpc.tlsservd (rpctls "), out);
            assertTrue(!out.contains("WARNING"), "no JVM warnings: " + out);
        }
        // Without -d the launcher puts the daemon in the background only once it started; a
        // start-up error comes back on stderr with the exit status.
        Path dir = Files.createTempDirectory("rpctls-launch");
        String out = run(1, DaemonProcess.launcher(Role.SERVER).toString(), "--emulated-kernel=" + dir, "-D", dir.resolve("none").toString());
        assertTrue(out.contains("rpc.tlsservd: Can't set up TLS context: certificate " + dir.resolve("none") + "/cert.pem: No such file or directory"), out);
    }

    @Test
    void launcherDaemonizesAndTheDaemonKeepsServing() throws Exception {
        var pki = TestPki.get();
        Path dir = Files.createTempDirectory(pki.base, "bg");
        try (var kernel = new org.rpctls.emulator.EmulatedKernel(dir, 2)) {
            long t0 = System.nanoTime();
            run(0, DaemonProcess.launcher(Role.SERVER).toString(), "--emulated-kernel=" + dir, "--upcall=netlink", "-D", pki.serverDir.toString());
            long pid = Long.parseLong(Files.readString(dir.resolve("rpc.tlsservd.pid")).trim());
            try {
                kernel.awaitDaemon(Role.SERVER, 1, Duration.ofSeconds(10));
                kernel.nullCall(Role.SERVER);
                System.out.printf("daemon in the background as pid %d, ready after %d ms%n", pid, (System.nanoTime() - t0) / 1_000_000);
            } finally {
                new ProcessBuilder("kill", "-TERM", String.valueOf(pid)).start().waitFor();
                var h = ProcessHandle.of(pid);
                if (h.isPresent()) h.get().onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
            }
            assertTrue(!Files.exists(dir.resolve("rpc.tlsservd.pid")));
        }
    }
    /** Runs the launcher copy under sh -x (RPCTLS_JAVA_HOME = this JVM) and returns its trace and output. */
    static String traceLauncher(Path launcher) throws Exception {
        var pb = new ProcessBuilder("sh", "-x", launcher.toString(), "--version").redirectErrorStream(true);
        pb.environment().put("RPCTLS_JAVA_HOME", System.getProperty("java.home"));
        pb.environment().remove("RPCTLS_JAVA_OPTS");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
        return out;
    }

    /**
     * The launcher passes the build's AOT cache only while no jar is newer than it: JDK 25 was seen
     * running classes from a cache made before the jar was rebuilt. A copy of dist/ with a stand-in
     * cache (the JVM ignores a cache it cannot use), then one jar touched.
     */
    @Test
    void launcherDropsAnAotCacheOlderThanAJar() throws Exception {
        Path copy = Files.createTempDirectory("rpctls-dist");
        try (var walk = Files.walk(DaemonProcess.DIST)) {
            for (Path from : walk.toList()) {
                Path to = copy.resolve(DaemonProcess.DIST.relativize(from).toString());
                if (Files.isDirectory(from)) Files.createDirectories(to);
                else Files.copy(from, to, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
        Path lib = copy.resolve("lib");
        Path release = Path.of(System.getProperty("java.home"), "release");
        String stamp = String.join("\n", Files.readAllLines(release).stream()
                .filter(l -> l.startsWith("IMPLEMENTOR=") || l.startsWith("JAVA_RUNTIME_VERSION=")).toList());
        Files.writeString(lib.resolve("rpctls.aot.jdk"), stamp + "\n");
        Files.writeString(lib.resolve("rpctls.aot"), "stand-in\n");
        var later = java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 60_000);
        Files.setLastModifiedTime(lib.resolve("rpctls.aot"), later);
        Path launcher = copy.resolve("bin").resolve("rpc.tlsservd");
        String fresh = traceLauncher(launcher);
        assertTrue(fresh.contains("-XX:AOTCache=" + lib.resolve("rpctls.aot")), "a cache newer than every jar is used:\n" + fresh);
        try (var jars = Files.list(lib)) {
            Path jar = jars.filter(j -> j.toString().endsWith(".jar")).findFirst().orElseThrow();
            Files.setLastModifiedTime(jar, java.nio.file.attribute.FileTime.fromMillis(later.toMillis() + 60_000));
        }
        String stale = traceLauncher(launcher);
        assertTrue(!stale.contains("-XX:AOTCache="), "a cache older than a jar is not used:\n" + stale);
        TestPki.deleteTree(copy);
    }
}
