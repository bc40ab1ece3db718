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
}
