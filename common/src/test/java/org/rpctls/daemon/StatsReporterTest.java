package org.rpctls.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.rpctls.tls.Role;

/** --stats-interval parsing and the stats line's shape (the soak harness parses it). */
class StatsReporterTest {
    @Test
    void statsIntervalIsOffByDefaultAndValidated() throws Exception {
        assertEquals(0, DaemonOptions.parse(Role.SERVER, new String[0], 4).statsInterval());
        assertEquals(30, DaemonOptions.parse(Role.CLIENT, new String[] {"--stats-interval=30"}, 4).statsInterval());
        assertEquals(5, DaemonOptions.parse(Role.SERVER, new String[] {"--stats-interval", "5"}, 4).statsInterval());
        for (String bad : new String[] {"0", "-1", "86401", "x", ""}) {
            var e = assertThrows(UsageException.class, () -> DaemonOptions.parse(Role.SERVER, new String[] {"--stats-interval=" + bad}, 4));
            assertTrue(e.getMessage().startsWith("rpc.tlsservd: --stats-interval must be 1..86400 seconds"), e.getMessage());
        }
    }

    @Test
    void lineHasEveryField() {
        String line = new StatsReporter(10, () -> 3).line();
        // this JVM did not ask for OpenSSL accounting (RPCTLS_COUNT_OPENSSL_ALLOCS unset in unit tests)
        assertTrue(Pattern.matches("stats: sessions=3 fds=\\d+ openssl_live_bytes=(off|\\d+) openssl_live_allocs=(off|\\d+)"
                + " handshakes_ok=\\d+ handshakes_failed=\\d+ threads=\\d+", line), line);
        assertTrue(StatsReporter.openFds() > 2, "open descriptors of this JVM");
    }
}
