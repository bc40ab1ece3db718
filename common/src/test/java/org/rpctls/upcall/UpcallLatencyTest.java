package org.rpctls.upcall;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.rpctls.rpc.Rpctls;

class UpcallLatencyTest {
    @AfterEach
    void reset() {
        UpcallLatency.reset();
    }

    @Test
    void everyValueFallsIntoABucketWhoseBoundIsAtMostAnEighthAbove() {
        int last = -1;
        for (long v = 0; v < 5_000_000; v = v < 100 ? v + 1 : v + v / 97) {
            int b = UpcallLatency.bucket(v);
            assertTrue(b >= last, "buckets grow with the value at " + v);
            last = b;
            long bound = UpcallLatency.upperBound(b);
            assertTrue(bound >= v, v + " above its bucket's bound " + bound);
            assertTrue(bound <= v + v / 8, v + ": bound " + bound + " more than 12.5 % above");
            if (b > 0) assertTrue(UpcallLatency.upperBound(b - 1) < v, v + " belongs in an earlier bucket");
        }
    }

    @Test
    void percentilesPerProcedure() {
        for (int i = 0; i < 980; i++) UpcallLatency.record(Rpctls.HANDLERECORD, 200_000); // 200 µs
        for (int i = 0; i < 20; i++) UpcallLatency.record(Rpctls.HANDLERECORD, 3_000_000); // 3 ms
        UpcallLatency.record(Rpctls.DISCONNECT, 50_000);
        UpcallLatency.record(99, 1); // not a procedure: ignored
        Map<String, Long> f = parse(UpcallLatency.summary());
        assertEquals(1000, f.get("handlerecord_n"));
        assertTrue(f.get("handlerecord_p50_us") >= 200 && f.get("handlerecord_p50_us") <= 225, f.toString());
        assertTrue(f.get("handlerecord_p99_us") >= 3000 && f.get("handlerecord_p99_us") <= 3375, f.toString());
        assertEquals(1, f.get("disconnect_n"));
        assertTrue(f.get("disconnect_max_us") >= 50 && f.get("disconnect_max_us") <= 56, f.toString());
        assertTrue(!f.containsKey("connect_n"), "no CONNECT was recorded: " + f);
    }

    @Test
    void nothingRecordedSaysNothing() {
        assertEquals("", UpcallLatency.summary());
    }

    private static Map<String, Long> parse(String s) {
        Map<String, Long> m = new HashMap<>();
        for (String kv : s.split(" ")) {
            String[] p = kv.split("=");
            m.put(p[0], Long.parseLong(p[1]));
        }
        return m;
    }
}
