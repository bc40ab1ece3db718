package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.rpctls.soak.Soak;

/**
 * The soak harness (tools/soak, docs/hardening-soak.md) for a CI-sized 60 s after a 15 s warm-up:
 * both daemons, both upcall generations, good and hostile peers; the verdict must be PASS (no
 * descriptor, session, OpenSSL heap, NMT or RSS growth beyond the thresholds, no unexpected outcome).
 */
class SoakShortTest {
    @Test
    void shortSoakPasses() throws Exception {
        DaemonProcess.launcher(org.rpctls.tls.Role.SERVER); // fails loudly when dist/ was not built
        var work = Files.createTempDirectory(TestPki.get().base, "soak");
        var config = new Soak.Config(Duration.ofSeconds(60), Duration.ofSeconds(15), 4, DaemonProcess.DIST, work, 50);
        Soak.Report report = Soak.run(config, System.out);
        assertTrue(report.passed(), "soak verdict FAIL:\n" + report.text());
        assertTrue(report.text().contains("VERDICT: PASS"), report.text());
    }
}
