package org.rpctls.it;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.rpctls.emulator.EmulatedKernel;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.Sockets;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.Role;
import org.rpctls.tls.TlsContext;
import org.rpctls.tls.TlsSession;

/** Building blocks of the daemon tests: an emulated kernel with one daemon, and TCP connections whose far end is a real TLS stack. */
final class Flows {
    private Flows() {}

    /** An emulated kernel plus a daemon of one role in one generation. */
    record Setup(EmulatedKernel kernel, DaemonProcess daemon, Loopback loop, Path dir) implements AutoCloseable {
        @Override
        public void close() {
            daemon.close();
            kernel.close();
            loop.close();
        }
    }

    static Setup start(int version, Role role, String... args) throws Exception {
        return start(version, role, EmulatedKernel.Handover.fromEnvironment(), args);
    }

    static Setup start(int version, Role role, EmulatedKernel.Handover handover, String... args) throws Exception {
        Path dir = Files.createTempDirectory(TestPki.get().base, "emu");
        var kernel = new EmulatedKernel(dir, version, EmulatedKernel.UPCALL_TIMEOUT_MILLIS, handover);
        List<String> all = new ArrayList<>(List.of("--upcall=" + (version == 1 ? "local" : "netlink")));
        all.addAll(List.of(args));
        DaemonProcess daemon;
        try {
            daemon = DaemonProcess.startEmulated(role, dir, all.toArray(String[]::new));
        } catch (Throwable t) {
            kernel.close();
            throw t;
        }
        kernel.awaitDaemon(role, 1, Duration.ofSeconds(10));
        return new Setup(kernel, daemon, new Loopback(), dir);
    }

    /** The daemon's start-up line for each socket hand-over (-d logs it). */
    static final String TABLE_LINE = "emulated kernel: socket hand-over by pidfd_getfd(2) from the claim table";
    static final String BROKER_LINE = "emulated kernel: socket hand-over through the broker";

    /**
     * Whether a daemon here can copy descriptors out of the test JVM with pidfd_getfd(2): Linux
     * 5.6 or later, and ptrace access to a parent (root, no Yama, or Yama's scope 0 or 1, which
     * the emulator's PR_SET_PTRACER_ANY covers). Elsewhere the daemon falls back to the broker.
     */
    static boolean pidfdHandoverPossible() {
        String[] v = System.getProperty("os.version", "0.0").split("[.-]");
        int major = Integer.parseInt(v[0]);
        int minor = v.length > 1 ? Integer.parseInt(v[1]) : 0;
        if (!System.getProperty("os.name", "").equals("Linux") || major < 5 || major == 5 && minor < 6) return false;
        if (System.getProperty("user.name", "").equals("root")) return true;
        try {
            return Integer.parseInt(Files.readString(Path.of("/proc/sys/kernel/yama/ptrace_scope")).trim()) <= 1;
        } catch (java.io.IOException | NumberFormatException e) {
            return true; // no Yama
        }
    }

    /** A connected TCP pair over loopback: [0] the connecting end, [1] the accepted end. */
    static SocketFd[] tcpPair(Loopback loop) throws Exception {
        SocketFd c = Sockets.connectTcp(loop.address, Duration.ofSeconds(5));
        SocketFd a = Sockets.accept(loop.listener(), Duration.ofSeconds(5));
        return new SocketFd[] {c, a};
    }

    /** Runs an engine handshake on {@code fd} in the background (the NFS peer of the daemon). */
    static CompletableFuture<TlsSession> engineHandshake(TlsContext ctx, SocketFd fd, Handshaker.Request req) {
        return inBackground(() -> Handshaker.handshake(ctx, fd, req));
    }

    /** Runs {@code body} on a virtual thread of its own; its result or failure completes the future. */
    static <T> CompletableFuture<T> inBackground(java.util.concurrent.Callable<T> body) {
        var f = new CompletableFuture<T>();
        Thread.ofVirtual().start(() -> {
            try {
                f.complete(body.call());
            } catch (Throwable t) {
                f.completeExceptionally(t);
            }
        });
        return f;
    }

    static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(30, TimeUnit.SECONDS);
    }
}
