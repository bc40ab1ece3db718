package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.rpctls.ffi.LibC;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.UnixSockets;
import org.rpctls.tls.Role;

/**
 * A daemon in the background logs through syslog(3): this test stands in for syslogd on
 * /dev/log (a datagram socket) and reads what arrives. It needs root and a machine without a
 * running syslogd (CI has none); elsewhere it says so loudly instead of touching /dev/log.
 */
class SyslogTest {
    static final Path DEV_LOG = Path.of("/dev/log");

    @Test
    void backgroundDaemonLogsToSyslogWithFacilityDaemon() throws Exception {
        boolean root = "root".equals(System.getProperty("user.name"));
        if (!root || Files.exists(DEV_LOG)) {
            System.out.println("SKIP SyslogTest: " + (root ? "/dev/log exists (a syslogd runs); not replacing it" : "needs root to bind /dev/log"));
            Assumptions.abort(root ? "/dev/log in use" : "not root");
        }
        int raw = LibC.socket(LibC.AF_UNIX, LibC.SOCK_DGRAM, 0);
        assertTrue(raw >= 0);
        var pki = TestPki.get();
        Path dir = Files.createTempDirectory(pki.base, "syslog");
        try (SocketFd sock = SocketFd.adopt(raw); Arena arena = Arena.ofConfined();
             var kernel = new org.rpctls.emulator.EmulatedKernel(dir, 1)) {
            var sa = UnixSockets.address(arena, DEV_LOG);
            assertTrue(LibC.bind(raw, sa, (int) sa.byteSize()) == 0, "bind /dev/log");
            long pid = -1;
            try {
                Process p = new ProcessBuilder(DaemonProcess.launcher(Role.SERVER).toString(), "--emulated-kernel=" + dir, "-v",
                        "-D", pki.serverDir.toString()).redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                assertTrue(p.waitFor() == 0, "launcher");
                pid = Long.parseLong(Files.readString(dir.resolve("rpc.tlsservd.pid")).trim());
                kernel.awaitDaemon(Role.SERVER, 1, Duration.ofSeconds(10));
                kernel.nullCall(Role.SERVER);
                List<String> got = new ArrayList<>();
                var buf = arena.allocate(4096);
                long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (System.nanoTime() < end && got.stream().noneMatch(l -> l.contains("rpctlssd_null_svc: done"))) {
                    long n = LibC.recv(raw, buf, 4096, LibC.MSG_DONTWAIT);
                    if (n > 0) got.add(new String(buf.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
                    else Thread.sleep(20);
                }
                System.out.println("syslog received: " + got);
                // <30> = LOG_DAEMON (3 << 3) | LOG_INFO (6); the ident is the program name with LOG_PID
                String ident = "rpc.tlsservd[" + pid + "]: ";
                assertTrue(got.stream().anyMatch(l -> l.startsWith("<30>") && l.contains(ident + "rpc.tlsservd started: rpctlssd version 1")), got.toString());
                assertTrue(got.stream().anyMatch(l -> l.contains("rpctlssd_null_svc: done")), got.toString());
            } finally {
                if (pid > 0) {
                    new ProcessBuilder("kill", "-TERM", String.valueOf(pid)).start().waitFor();
                    var h = ProcessHandle.of(pid);
                    if (h.isPresent()) h.get().onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
                }
                Files.deleteIfExists(DEV_LOG);
            }
        }
    }

}
