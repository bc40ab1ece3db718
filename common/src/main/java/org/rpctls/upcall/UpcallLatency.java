package org.rpctls.upcall;

import java.util.concurrent.atomic.AtomicLongArray;
import org.rpctls.rpc.Rpctls;

/**
 * How long the daemon takes to serve each kind of upcall, from the decoded call to the reply
 * sent: the daemon's own share of the latency the kernel sees (without the kernel's side of
 * the transport). Kept as log-linear histograms (8 buckets per power of two, so a percentile
 * is reported as at most 12.5 % above the true value) in atomic counters: recording costs one increment, and nothing grows
 * with the number of upcalls. Reported on the "stats:" line (--stats-interval, SIGUSR1).
 */
public final class UpcallLatency {
    private UpcallLatency() {}

    private static final int SUB = 8; // buckets per power of two
    private static final int BUCKETS = 40 * SUB; // up to 2^40 µs: any duration a daemon lives through
    private static final String[] NAMES = {"null", "connect", "handlerecord", "disconnect"};
    private static final AtomicLongArray[] HISTOGRAMS = new AtomicLongArray[NAMES.length];

    static {
        for (int i = 0; i < NAMES.length; i++) HISTOGRAMS[i] = new AtomicLongArray(BUCKETS);
    }

    /** Records one upcall of {@code procedure} that took {@code nanos}. */
    public static void record(int procedure, long nanos) {
        if (procedure < Rpctls.NULLPROC || procedure >= NAMES.length) return;
        HISTOGRAMS[procedure].incrementAndGet(bucket(Math.max(0, nanos / 1000)));
    }

    /** The bucket of {@code micros}: 0-7 exact, then 8 per power of two. */
    static int bucket(long micros) {
        if (micros < SUB) return (int) micros;
        int exp = 63 - Long.numberOfLeadingZeros(micros); // >= 3
        int sub = (int) (micros >>> (exp - 3)) & (SUB - 1);
        return Math.min(BUCKETS - 1, (exp - 2) * SUB + sub);
    }

    /** The largest value (µs) that falls into {@code bucket}. */
    static long upperBound(int bucket) {
        if (bucket < SUB) return bucket;
        int exp = bucket / SUB + 2;
        int sub = bucket % SUB;
        return ((long) (SUB + sub + 1) << (exp - 3)) - 1;
    }

    /** "handlerecord_n=1000 handlerecord_p50_us=215 handlerecord_p99_us=871 handlerecord_max_us=2047 ..." for each procedure seen. */
    public static String summary() {
        StringBuilder b = new StringBuilder();
        for (int p = Rpctls.CONNECT; p < NAMES.length; p++) {
            long[] counts = new long[BUCKETS];
            long n = 0;
            for (int i = 0; i < BUCKETS; i++) n += counts[i] = HISTOGRAMS[p].get(i);
            if (n == 0) continue;
            if (!b.isEmpty()) b.append(' ');
            String k = NAMES[p];
            b.append(k).append("_n=").append(n)
                    .append(' ').append(k).append("_p50_us=").append(percentile(counts, n, 50))
                    .append(' ').append(k).append("_p99_us=").append(percentile(counts, n, 99))
                    .append(' ').append(k).append("_max_us=").append(percentile(counts, n, 100));
        }
        return b.toString();
    }

    private static long percentile(long[] counts, long n, int pct) {
        long rank = Math.max(1, (long) Math.ceil(n * pct / 100.0));
        long seen = 0;
        for (int i = 0; i < counts.length; i++) {
            seen += counts[i];
            if (seen >= rank) return upperBound(i);
        }
        return upperBound(counts.length - 1);
    }

    /** Tests: forget everything recorded. */
    static void reset() {
        for (var h : HISTOGRAMS) for (int i = 0; i < BUCKETS; i++) h.set(i, 0);
    }
}
