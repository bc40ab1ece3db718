package org.rpctls.daemon;

import java.io.File;
import java.util.function.IntSupplier;
import org.rpctls.upcall.HandshakeCounts;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The "stats:" log line (--stats-interval=SECONDS): live sessions, open descriptors, OpenSSL's live
 * heap (with RPCTLS_COUNT_OPENSSL_ALLOCS=1, else "off"), the handshake counts and the live platform
 * threads (carriers of the virtual threads included; virtual threads are not counted), and per kind of
 * upcall served so far the count and the daemon's service time (p50, p99, max: UpcallLatency); every
 * interval, on SIGUSR1 and once at exit. Meant for soak runs and for watching a daemon in production.
 */
final class StatsReporter {
    private static final Logger LOG = LoggerFactory.getLogger("rpctls");

    private final IntSupplier sessions;
    private final int intervalSeconds;
    private Thread thread;

    /** {@code sessions} returns -1 where the daemon keeps no sessions (Linux: the kernel keeps them). */
    StatsReporter(int intervalSeconds, IntSupplier sessions) {
        this.intervalSeconds = intervalSeconds;
        this.sessions = sessions;
    }

    /** Starts the periodic line (a no-op without --stats-interval) and says whether OpenSSL's heap is counted. */
    void start() {
        if (!"off".equals(OpenSslAllocations.installResult())) LOG.info("OpenSSL allocation accounting: {}", OpenSslAllocations.installResult());
        if (intervalSeconds <= 0) return;
        thread = Thread.ofPlatform().daemon().name("stats").start(() -> {
            while (true) {
                try {
                    Thread.sleep(intervalSeconds * 1000L);
                } catch (InterruptedException e) {
                    return;
                }
                LOG.info(line());
            }
        });
    }

    /** Stops the periodic line and logs the last one (when there is a line to report). */
    void stop() {
        if (thread != null) thread.interrupt();
        if (intervalSeconds > 0 || OpenSslAllocations.active()) LOG.info(line());
    }

    String line() {
        String latency = org.rpctls.upcall.UpcallLatency.summary();
        String openssl = OpenSslAllocations.active()
                ? "openssl_live_bytes=" + OpenSslAllocations.liveBytes() + " openssl_live_allocs=" + OpenSslAllocations.liveAllocs()
                : "openssl_live_bytes=off openssl_live_allocs=off";
        return "stats: sessions=" + sessions.getAsInt() + " fds=" + openFds() + " " + openssl
                + " handshakes_ok=" + HandshakeCounts.okCount() + " handshakes_failed=" + HandshakeCounts.failedCount()
                + " threads=" + java.lang.management.ManagementFactory.getThreadMXBean().getThreadCount()
                + (latency.isEmpty() ? "" : " " + latency);
    }

    /** Open descriptors of this process (Linux /proc, FreeBSD fdescfs); -1 when neither is there. */
    static int openFds() {
        for (String dir : new String[] {"/proc/self/fd", "/dev/fd"}) {
            String[] names = new File(dir).list(); // the listing's own descriptor is counted too
            if (names != null && (dir.startsWith("/proc") || names.length > 3)) return names.length - 1;
        }
        return -1;
    }
}
