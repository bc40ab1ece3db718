package org.rpctls.bench;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.rpctls.emulator.EmulatedKernel;
import org.rpctls.rpc.Rpctls;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.Sockets;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.Role;
import org.rpctls.tls.TlsContext;
import org.rpctls.tls.TlsSession;
import org.rpctls.tls.TlsSettings;

/**
 * The build's AOT training run (JEP 483/514): starts rpc.tlsservd from DIST/bin with
 * -XX:AOTCacheOutput=DIST/lib/rpctls.aot against the emulated kernel (version 1), has it serve
 * NULL, CONNECTs with real handshakes, HANDLERECORDs and DISCONNECTs, then stops it with
 * SIGTERM; the JVM writes the cache as it exits. DIST/lib/rpctls.aot.jdk records which JDK made
 * it (the launcher uses the cache only with that JDK). One cache serves both daemons: they have
 * the same class path, and all but their main classes are shared.
 *
 * <p>A failed training is a warning, not a build failure: the daemons start without the cache.
 * Usage: AotTraining DIST
 */
public final class AotTraining {
    private AotTraining() {}

    static final int SESSIONS = 30;

    public static void main(String[] args) throws Exception {
        Path dist = Path.of(args[0]).toAbsolutePath().normalize();
        Path cache = dist.resolve("lib").resolve("rpctls.aot");
        Path stamp = dist.resolve("lib").resolve("rpctls.aot.jdk");
        // the launcher would hand an old cache to the training JVM as well
        Files.deleteIfExists(cache);
        Files.deleteIfExists(stamp);
        Path work = Files.createTempDirectory("rpctls-aot");
        long t0 = System.nanoTime();
        try {
            train(dist, cache, work);
            if (!Files.isRegularFile(cache)) throw new IllegalStateException("the JVM wrote no " + cache);
            Files.writeString(stamp, jdkIdentity(Path.of(System.getProperty("java.home"))));
            System.out.printf("AOT cache %s (%d bytes) made in %.1f s by the training run%n", cache, Files.size(cache),
                    (System.nanoTime() - t0) / 1e9);
        } catch (Exception e) {
            Files.deleteIfExists(cache);
            System.out.println("WARNING: AOT training failed, " + cache + " not made (the daemons start without it): " + e);
        } finally {
            Probes.deleteTree(work);
        }
    }

    /** What the launcher compares: these lines of the JDK's release file. */
    static String jdkIdentity(Path javaHome) throws Exception {
        StringBuilder b = new StringBuilder();
        for (String l : Files.readAllLines(javaHome.resolve("release"))) {
            if (l.startsWith("IMPLEMENTOR=") || l.startsWith("JAVA_RUNTIME_VERSION=")) b.append(l).append('\n');
        }
        if (b.isEmpty()) throw new IllegalStateException(javaHome + "/release names no JAVA_RUNTIME_VERSION");
        return b.toString();
    }

    static void train(Path dist, Path cache, Path work) throws Exception {
        Path certDir = Files.createDirectories(work.resolve("certs"));
        Probes.run(work, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", certDir.resolve(TlsSettings.KEY_FILE).toString(), "-out", certDir.resolve(TlsSettings.CERT_FILE).toString(),
                "-days", "2", "-subj", "/CN=localhost");
        Path dir = work.resolve("emu");
        var pb = new ProcessBuilder(dist.resolve("bin/rpc.tlsservd").toString(), "-d", "-v", "--emulated-kernel=" + dir, "--upcall=local",
                "--no-ktls-check", "-D", certDir.toString()).redirectErrorStream(true).redirectOutput(work.resolve("daemon.log").toFile());
        // the JDK running this is the one the cache is for
        pb.environment().put("RPCTLS_JAVA_HOME", System.getProperty("java.home"));
        pb.environment().put("RPCTLS_JAVA_OPTS", "-XX:AOTCacheOutput=" + cache);
        try (var kernel = new EmulatedKernel(dir, Rpctls.VERSION_1);
             var peerCtx = TlsContext.create(TlsSettings.defaults(Role.CLIENT).withCertDir(certDir).withOwnCert(false));
             SocketFd listener = Sockets.listenTcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64)) {
            Process daemon = pb.start();
            try {
                kernel.awaitDaemon(Role.SERVER, 1, Duration.ofSeconds(60));
                kernel.nullCall(Role.SERVER);
                var address = Sockets.localAddress(listener.fd());
                List<EmulatedKernel.SessionRef> refs = new ArrayList<>();
                List<TlsSession> peers = new ArrayList<>();
                for (int i = 0; i < SESSIONS; i++) {
                    try (SocketFd c = Sockets.connectTcp(address, Duration.ofSeconds(10));
                         SocketFd k = Sockets.accept(listener, Duration.ofSeconds(10))) {
                        var peer = new java.util.concurrent.CompletableFuture<TlsSession>();
                        Thread.ofVirtual().start(() -> {
                            try {
                                peer.complete(Handshaker.handshake(peerCtx, c, Handshaker.Request.defaults()));
                            } catch (Throwable t) {
                                peer.completeExceptionally(t);
                            }
                        });
                        var r = kernel.serverConnect(k);
                        peers.add(peer.get(30, TimeUnit.SECONDS));
                        if (!r.replied() || r.ref() == null) throw new IllegalStateException("CONNECT " + i + " failed: flags " + r.flags());
                        refs.add(r.ref());
                    }
                }
                for (int i = 0; i < SESSIONS; i++) {
                    if (i % 3 == 0) {
                        peers.get(i).close(); // close_notify: the kernel asks for HANDLERECORD
                        kernel.handleRecord(Role.SERVER, refs.get(i));
                    }
                    kernel.disconnect(Role.SERVER, refs.get(i));
                }
                peers.forEach(TlsSession::close);
            } finally {
                daemon.destroy(); // SIGTERM: the daemon exits and the JVM assembles the cache
                if (!daemon.waitFor(5, TimeUnit.MINUTES)) {
                    daemon.destroyForcibly();
                    throw new IllegalStateException("the training daemon did not exit");
                }
            }
        }
    }
}
