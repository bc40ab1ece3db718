package org.rpctls.lab;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * Hostile peers and faults on the Linux handshake upcall, on a real kernel (the lab VM): nfsd
 * and the NFS client make the upcalls, our daemons (already running, logging to OUT/tlsservd.log
 * and OUT/tlsclntd.log, pids in /run/tlsservd.daemon and /run/tlsclntd.daemon) serve them.
 *
 * <ul>
 * <li>hostile NFS clients against nfsd (so against rpc.tlsservd): after the AUTH_TLS probe they
 *     stay silent, send random bytes, send half a ClientHello, or reset mid-handshake;</li>
 * <li>a burst of 50 such connections while a good mTLS mount runs;</li>
 * <li>both daemons stopped (SIGSTOP) while requests queue in the kernel, then continued;</li>
 * <li>a hostile NFS server (a fake one on port 20049) against the NFS client, so against
 *     rpc.tlsclntd: silent, random bytes, reset;</li>
 * <li>and after all that, both daemons' descriptor counts back where they started.</li>
 * </ul>
 * Usage: VmLinuxHostileCheck OUT. Prints PASS/FAIL lines and a totals line; exits 1 on any failure.
 */
public final class VmLinuxHostileCheck {
    private static final int NFS_PORT = 2049;
    private static final int FAKE_PORT = 20049;
    private static final Random RANDOM = new Random();
    private static int passed;
    private static int failed;

    enum Act { SILENT, RANDOM_BYTES, HALF_HELLO, RESET, ABANDON }

    private static void check(String name, boolean ok, String detail) {
        if (ok) passed++;
        else failed++;
        System.out.println((ok ? "PASS " : "FAIL ") + name + (detail == null ? "" : (ok ? "  (" + detail + ")" : "\n    " + detail.replace("\n", "\n    "))));
    }

    public static void main(String[] args) throws Exception {
        Path out = Path.of(args[0]);
        Daemon servd = new Daemon("rpc.tlsservd", pidOf("tlsservd"), out.resolve("tlsservd.log"));
        Daemon clntd = new Daemon("rpc.tlsclntd", pidOf("tlsclntd"), out.resolve("tlsclntd.log"));
        // a good mount first: the daemons' descriptors are counted once they have served one
        check("warm-up mtls mount", goodMount("mtls").ok(), null);
        long fdsServd = servd.fds(), fdsClntd = clntd.fds();
        System.out.println("baseline descriptors: rpc.tlsservd " + fdsServd + ", rpc.tlsclntd " + fdsClntd);

        hostileClients(servd, clntd);
        burst(servd, clntd);
        stalled(servd, clntd);
        hostileServers(servd, clntd);

        check("rpc.tlsservd and rpc.tlsclntd still running", servd.alive() && clntd.alive(), null);
        check("a good mtls mount after all that", goodMount("mtls").ok(), null);
        boolean back = false;
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!back && System.nanoTime() < end) {
            back = servd.fds() <= fdsServd && clntd.fds() <= fdsClntd;
            if (!back) Thread.sleep(500);
        }
        check("descriptors back to the baseline", back,
                "rpc.tlsservd " + fdsServd + " -> " + servd.fds() + ", rpc.tlsclntd " + fdsClntd + " -> " + clntd.fds());
        System.out.println("VmLinuxHostileCheck totals: passed=" + passed + " failed=" + failed);
        System.exit(failed == 0 ? 0 : 1);
    }

    // ---- hostile NFS clients: nfsd upcalls SERVERHELLO, rpc.tlsservd serves it

    static void hostileClients(Daemon servd, Daemon clntd) throws Exception {
        for (Act act : List.of(Act.RANDOM_BYTES, Act.RESET, Act.ABANDON, Act.HALF_HELLO, Act.SILENT)) {
            Phase phase = Phase.start(servd, clntd);
            long t0 = System.nanoTime();
            HostileClient c = HostileClient.run(act, Duration.ofSeconds(60));
            if (!c.startTls()) {
                check("hostile client " + act + ": nfsd answered the AUTH_TLS probe with STARTTLS", false, c.detail());
                continue;
            }
            String port = "127.0.0.1:" + c.localPort();
            // a reset peer has no address any more when the daemon looks; its line names the reset instead
            Predicate<String> mine = act == Act.RESET ? l -> l.contains(port) || l.contains("peer address gone") : l -> l.contains(port);
            String line = act == Act.RESET && phase.settle().accepts() == 0 ? null
                    : phase.servd().await(l -> mine.test(l) && l.contains("DONE with"), Duration.ofSeconds(60));
            double s = (System.nanoTime() - t0) / 1e9;
            Phase.Counts n = phase.settle();
            if (act == Act.RESET && n.accepts() == 0) {
                check("hostile client RESET: the kernel cancelled the request before any daemon took it", n.done() == 0, n.toString());
            } else {
                check("hostile client " + act + ": rpc.tlsservd ends it with a log line naming the peer and the reason", line != null && reasonFits(act, line),
                        line == null ? "no line for " + port + " in:\n" + phase.servd().text() : String.format("%.1f s: %s", s, line.strip()));
            }
            check("hostile client " + act + ": every request a daemon took got DONE and one outcome line", n.balanced(), n.toString());
            if (act == Act.SILENT || act == Act.HALF_HELLO) {
                check("hostile client " + act + ": connection closed by the server side", c.closedByServer(),
                        String.format("%.1f s after the probe", c.closedAfterSeconds()));
            }
            check("hostile client " + act + ": rpc.tlsservd still running", servd.alive(), null);
        }
    }

    static boolean reasonFits(Act act, String line) {
        return switch (act) {
            case RANDOM_BYTES -> line.contains("wrong version number") || line.contains("record");
            case RESET -> line.contains("reset by peer") || line.contains("peer address gone");
            default -> line.contains("TLS handshake failed");
        };
    }

    static void burst(Daemon servd, Daemon clntd) throws Exception {
        Phase phase = Phase.start(servd, clntd);
        List<CompletableFuture<HostileClient>> peers = new ArrayList<>();
        List<Act> acts = new ArrayList<>();
        for (int i = 0; i < 50; i++) acts.add(i < 30 ? Act.ABANDON : i < 40 ? Act.RANDOM_BYTES : Act.RESET);
        for (Act act : acts) peers.add(inBackground(() -> HostileClient.run(act, Duration.ofSeconds(60))));
        Mount good = goodMount("mtls");
        int probed = 0;
        for (var f : peers) if (f.get(120, TimeUnit.SECONDS).startTls()) probed++;
        Phase.Counts n = phase.settle();
        check("50 hostile clients at once (30 abandon, 10 random bytes, 10 reset): a good mtls mount meanwhile", good.ok(),
                String.format("mount %.2f s; %d of 50 probes answered STARTTLS", good.seconds(), probed));
        check("  ... every request a daemon took got DONE and one outcome line", n.balanced() && n.accepts() >= 2, n.toString());
        check("  ... both daemons still running", servd.alive() && clntd.alive(), null);
    }

    /** Both daemons stopped while requests queue in the kernel: nothing is lost when they continue. */
    static void stalled(Daemon servd, Daemon clntd) throws Exception {
        Phase phase = Phase.start(servd, clntd);
        signal("STOP", servd, clntd);
        List<CompletableFuture<HostileClient>> peers = new ArrayList<>();
        CompletableFuture<Mount> mount;
        try {
            for (int i = 0; i < 5; i++) peers.add(inBackground(() -> HostileClient.run(Act.RANDOM_BYTES, Duration.ofSeconds(60))));
            mount = inBackground(() -> goodMount("tls"));
            // 2 s: nfsd gives a request 5 s (seen in the lab), and the mount's server-side request is
            // already counting; the handshakes after SIGCONT must fit in what is left
            Thread.sleep(2000);
        } finally {
            signal("CONT", servd, clntd);
        }
        Mount m = mount.get(120, TimeUnit.SECONDS);
        int probed = 0;
        for (var f : peers) if (f.get(120, TimeUnit.SECONDS).startTls()) probed++;
        Phase.Counts n = phase.settle();
        check("both daemons stopped 2 s while a tls mount and 5 hostile clients queued: the mount succeeds after SIGCONT", m.ok(),
                String.format("mount %.2f s (including the 2 s stop)", m.seconds()));
        // 5 hostile SERVERHELLOs, and the mount's CLIENTHELLO and SERVERHELLO
        check("  ... every queued request was taken, got DONE and one outcome line", probed == 5 && n.balanced() && n.accepts() == 7,
                probed + " probes answered STARTTLS; " + n);
    }

    static <T> CompletableFuture<T> inBackground(java.util.function.Supplier<T> work) {
        return CompletableFuture.supplyAsync(work, runnable -> Thread.ofVirtual().start(runnable));
    }

    // ---- a hostile NFS server: the NFS client upcalls CLIENTHELLO, rpc.tlsclntd serves it

    static void hostileServers(Daemon servd, Daemon clntd) throws Exception {
        for (Act act : List.of(Act.RANDOM_BYTES, Act.RESET, Act.SILENT)) {
            Phase phase = Phase.start(servd, clntd);
            LogTail log = phase.clntd();
            AtomicInteger connections = new AtomicInteger();
            try (ServerSocket listener = new ServerSocket()) {
                listener.setReuseAddress(true);
                listener.bind(new InetSocketAddress("127.0.0.1", FAKE_PORT));
                Thread acceptor = Thread.ofVirtual().start(() -> fakeServer(listener, act, connections));
                long t0 = System.nanoTime();
                int status = run(List.of("timeout", "150", "mount", "-t", "nfs4", "-o",
                        "vers=4.2,xprtsec=tls,port=" + FAKE_PORT + ",timeo=50,retrans=1,retry=0", "localhost:/", "/mnt/tls"));
                double s = (System.nanoTime() - t0) / 1e9;
                if (status == 0) run(List.of("umount", "/mnt/tls"));
                // a reset server has no address any more when the daemon looks: the kernel's peer name stands in
                String line = log.await(l -> (l.contains("127.0.0.1:" + FAKE_PORT) || l.contains("peer address gone")) && l.contains("DONE with"),
                        Duration.ofSeconds(10));
                Phase.Counts n = phase.settle();
                check("hostile server " + act + ": the mount fails", status != 0 && status != 124,
                        String.format("mount exit %d after %.1f s, %d connection(s) to the fake server", status, s, connections.get()));
                check("hostile server " + act + ": rpc.tlsclntd ends it with a log line naming the server", line != null,
                        line == null ? "nothing in:\n" + log.text() : line.strip());
                check("hostile server " + act + ": every request rpc.tlsclntd took got DONE and one outcome line", n.balanced() && n.accepts() >= 1, n.toString());
                check("hostile server " + act + ": rpc.tlsclntd still running", clntd.alive(), null);
                listener.close();
                acceptor.join(5000);
            }
        }
    }

    static void fakeServer(ServerSocket listener, Act act, AtomicInteger connections) {
        while (!listener.isClosed()) {
            Socket s;
            try {
                s = listener.accept();
            } catch (IOException e) {
                return;
            }
            connections.incrementAndGet();
            Thread.ofVirtual().start(() -> {
                try (s) {
                    s.setSoTimeout(5000);
                    // answer an AUTH_TLS probe if the client sends one, then misbehave
                    byte[] call = readRecord(s.getInputStream());
                    if (call != null && call.length >= 8) s.getOutputStream().write(startTlsReply(call));
                    // reset only once the ClientHello is here: rpc.tlsclntd is then mid-handshake
                    if (act == Act.RESET) s.getInputStream().read(new byte[4096]);
                    misbehave(s, act, Duration.ofSeconds(120));
                } catch (IOException e) {
                    // the client gave up: fine
                }
            });
        }
    }

    // ---- the hostile client

    record HostileClient(boolean startTls, int localPort, boolean closedByServer, double closedAfterSeconds, String detail) {
        static HostileClient run(Act act, Duration wait) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", NFS_PORT), 10_000);
                s.setSoTimeout(30_000);
                s.getOutputStream().write(authTlsNullCall(RANDOM.nextInt()));
                byte[] reply = readRecord(s.getInputStream());
                if (reply == null || !isStartTls(reply)) {
                    return new HostileClient(false, s.getLocalPort(), false, 0, "reply " + (reply == null ? "none" : hex(reply)));
                }
                long t0 = System.nanoTime();
                boolean closed = misbehave(s, act, wait);
                return new HostileClient(true, s.getLocalPort(), closed, (System.nanoTime() - t0) / 1e9, null);
            } catch (IOException e) {
                return new HostileClient(false, 0, false, 0, e.toString());
            }
        }
    }

    /** Does what ACT says on S; true if the other side then closed the connection within WAIT. */
    static boolean misbehave(Socket s, Act act, Duration wait) throws IOException {
        OutputStream o = s.getOutputStream();
        switch (act) {
            case ABANDON -> { return false; }
            case RANDOM_BYTES -> {
                byte[] junk = new byte[4096];
                RANDOM.nextBytes(junk);
                o.write(junk);
            }
            case HALF_HELLO, RESET -> o.write(halfClientHello());
            case SILENT -> { }
        }
        if (act == Act.RESET) {
            s.setSoLinger(true, 0); // close() sends RST
            return false;
        }
        return awaitClose(s, wait);
    }

    static boolean awaitClose(Socket s, Duration wait) throws IOException {
        s.setSoTimeout((int) wait.toMillis());
        InputStream in = s.getInputStream();
        byte[] b = new byte[4096];
        try {
            while (in.read(b) >= 0) { /* whatever the server sends (an alert) */ }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // reset by the server: closed too
        }
    }

    /** A TLS record header announcing a 512-byte ClientHello, and only its first 70 bytes. */
    static byte[] halfClientHello() {
        ByteBuffer b = ByteBuffer.allocate(5 + 70);
        b.put((byte) 22).putShort((short) 0x0301).putShort((short) 512);
        b.put((byte) 1).put((byte) 0).putShort((short) 508).putShort((short) 0x0303);
        byte[] random = new byte[32];
        RANDOM.nextBytes(random);
        b.put(random).put((byte) 32);
        byte[] sessionId = new byte[b.remaining()];
        RANDOM.nextBytes(sessionId);
        b.put(sessionId);
        return b.array();
    }

    // ---- ONC RPC: the AUTH_TLS probe (RFC 9289 section 4.1)

    static byte[] authTlsNullCall(int xid) {
        ByteBuffer b = ByteBuffer.allocate(4 + 40);
        b.putInt(0x80000000 | 40).putInt(xid).putInt(0).putInt(2).putInt(100003).putInt(4).putInt(0)
                .putInt(7).putInt(0) // credential AUTH_TLS, empty
                .putInt(0).putInt(0); // verifier AUTH_NONE, empty
        return b.array();
    }

    static boolean isStartTls(byte[] reply) {
        ByteBuffer b = ByteBuffer.wrap(reply);
        if (reply.length < 32) return false;
        b.getInt(); // xid
        if (b.getInt() != 1 || b.getInt() != 0 || b.getInt() != 0 || b.getInt() != 8) return false;
        byte[] v = new byte[8];
        b.get(v);
        return "STARTTLS".equals(new String(v, StandardCharsets.US_ASCII)) && b.getInt() == 0;
    }

    static byte[] startTlsReply(byte[] call) {
        ByteBuffer b = ByteBuffer.allocate(4 + 32);
        b.putInt(0x80000000 | 32).putInt(ByteBuffer.wrap(call).getInt()).putInt(1).putInt(0)
                .putInt(0).putInt(8).put("STARTTLS".getBytes(StandardCharsets.US_ASCII)).putInt(0);
        return b.array();
    }

    /** One record-marked RPC message (one fragment, at most 64 KiB), or null at end of stream / timeout. */
    static byte[] readRecord(InputStream in) throws IOException {
        try {
            byte[] mark = in.readNBytes(4);
            if (mark.length < 4) return null;
            int len = ByteBuffer.wrap(mark).getInt() & 0x7fffffff;
            if (len > 65536) return null;
            byte[] body = in.readNBytes(len);
            return body.length == len ? body : null;
        } catch (SocketTimeoutException e) {
            return null;
        }
    }

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(b.length, 64); i++) sb.append(String.format("%02x", b[i]));
        return sb.toString();
    }

    // ---- processes

    record Mount(boolean ok, double seconds) {}

    static Mount goodMount(String mode) {
        long t0 = System.nanoTime();
        try {
            Path dir = Path.of("/mnt/" + mode);
            if (run(List.of("mount", "-t", "nfs4", "-o", "vers=4.2,xprtsec=" + mode, "localhost:/", dir.toString())) != 0) {
                return new Mount(false, (System.nanoTime() - t0) / 1e9);
            }
            try {
                Path f = dir.resolve("hostile-check-" + mode + ".txt");
                Files.writeString(f, "written over " + mode + "\n");
                boolean ok = Files.readString(f).equals("written over " + mode + "\n");
                return new Mount(ok, (System.nanoTime() - t0) / 1e9);
            } finally {
                run(List.of("umount", dir.toString()));
            }
        } catch (IOException | InterruptedException e) {
            return new Mount(false, (System.nanoTime() - t0) / 1e9);
        }
    }

    static int run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        if (!p.waitFor(200, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return 124;
        }
        return p.exitValue();
    }

    static long pidOf(String name) throws IOException {
        return Long.parseLong(Files.readString(Path.of("/run/" + name + ".daemon")).strip());
    }

    static void signal(String sig, Daemon... daemons) throws IOException, InterruptedException {
        for (Daemon d : daemons) run(List.of("kill", "-" + sig, Long.toString(d.pid())));
    }

    record Daemon(String name, long pid, Path log) {
        boolean alive() {
            return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
        }

        long fds() throws IOException {
            try (var s = Files.list(Path.of("/proc/" + pid + "/fd"))) {
                return s.count();
            }
        }

        LogTail tail() throws IOException {
            return new LogTail(log, Files.size(log));
        }
    }

    /**
     * One step of the check: the kernel's handshake trace events (ACCEPTs and DONEs it saw) and
     * both daemons' log lines from its start. "Balanced" means every request a daemon took from
     * the kernel was answered with DONE and logged with exactly one outcome line.
     */
    record Phase(LogTail servd, LogTail clntd, KernelTrace trace) {
        static Phase start(Daemon servd, Daemon clntd) throws IOException {
            return new Phase(servd.tail(), clntd.tail(), KernelTrace.start());
        }

        record Counts(int accepts, int done, int outcomes) {
            boolean balanced() {
                return accepts == done && done == outcomes;
            }

            @Override
            public String toString() {
                return "kernel trace: " + accepts + " ACCEPT, " + done + " DONE; daemons logged " + outcomes + " outcome line(s)";
            }
        }

        /** The counts once they stop changing (a request in flight finishes within its deadline). */
        Counts settle() throws InterruptedException {
            Counts last = counts();
            long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < end) {
                Thread.sleep(1000);
                Counts now = counts();
                if (now.equals(last) && now.balanced()) return now;
                last = now;
            }
            return last;
        }

        Counts counts() {
            int outcomes = 0;
            for (LogTail t : List.of(servd, clntd)) {
                for (String l : t.text().split("\n")) if (l.contains("DONE with") || l.contains("SSL handshake ok")) outcomes++;
            }
            // a DONE the kernel refused (the request was cancelled meanwhile) was still sent
            return new Counts(trace.count("handshake_cmd_accept"), trace.count("handshake_cmd_done") + trace.count("handshake_cmd_done_err"), outcomes);
        }
    }

    /** The kernel's "handshake" trace events (tracefs), from a point on. */
    record KernelTrace(Path file, long from) {
        static final Path TRACING = Path.of("/sys/kernel/tracing");

        static KernelTrace start() throws IOException {
            if (!Files.exists(TRACING.resolve("events/handshake"))) {
                try {
                    run(List.of("mount", "-t", "tracefs", "nodev", TRACING.toString()));
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
            }
            Path enable = TRACING.resolve("events/handshake/enable");
            if (!Files.exists(enable)) throw new IOException("the kernel has no handshake trace events at " + enable);
            if (!Files.readString(enable).strip().equals("1")) {
                Files.writeString(enable, "1");
                Files.writeString(TRACING.resolve("buffer_size_kb"), "8192");
            }
            return new KernelTrace(TRACING.resolve("trace"), lines(TRACING.resolve("trace")));
        }

        static long lines(Path f) throws IOException {
            try (var s = Files.lines(f)) {
                return s.count();
            }
        }

        /** Events named exactly EVENT (not EVENT_err) since the start. */
        int count(String event) {
            try (var s = Files.lines(file)) {
                return (int) s.skip(from).filter(l -> l.contains(" " + event + ":")).count();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    /** The lines a daemon logged after a point. */
    record LogTail(Path log, long from) {
        String text() {
            try {
                byte[] all = Files.readAllBytes(log);
                return new String(all, (int) Math.min(from, all.length), (int) Math.max(0, all.length - from), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return e.toString();
            }
        }

        String await(Predicate<String> wanted, Duration wait) throws InterruptedException {
            long end = System.nanoTime() + wait.toNanos();
            do {
                for (String l : text().split("\n")) if (wanted.test(l)) return l;
                Thread.sleep(200);
            } while (System.nanoTime() < end);
            return null;
        }
    }
}
