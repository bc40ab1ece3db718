package org.rpctls.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.File;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.rpctls.tls.Handshaker;
import org.rpctls.tls.TlsContext;

/** 1,000 handshakes (and failed ones) leave the process's open descriptor count unchanged. */
class LeakTest {
    static int openFds() {
        String[] fds = new File("/proc/self/fd").list();
        if (fds == null) throw new AssertionError("/proc/self/fd is not readable");
        return fds.length;
    }

    @Test
    void thousandHandshakesLeakNoDescriptor() throws Exception {
        var pki = TestPki.get();
        var req = Handshaker.Request.defaults();
        try (var loop = new Loopback();
             var server = TlsContext.create(pki.mutualServer());
             var client = TlsContext.create(pki.client().withOwnCert(true));
             var tls12Client = TlsContext.create(pki.client().withTls12(true))) {
            // warm up: the poller thread's pipe, class loading, lazily opened files
            for (int i = 0; i < 20; i++) loop.handshake(server, req, client, req).close();
            int before = openFds();
            long t0 = System.nanoTime();
            for (int i = 0; i < 1000; i++) {
                try (var out = loop.handshake(server, req, client, req)) {
                    out.server().get();
                    out.client().get();
                }
            }
            // failed handshakes: the caller's SocketFd closes the descriptor, the engine frees the SSL
            for (int i = 0; i < 100; i++) {
                try (var out = loop.handshake(server, req.withTimeout(Duration.ofSeconds(5)), tls12Client, req)) {
                    if (out.server().failure() == null) throw new AssertionError("TLS 1.2 client accepted by a 1.3-only server");
                }
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            int after = openFds();
            System.out.printf("1000 mutual-TLS handshake pairs + 100 failed ones in %d ms; open fds before %d, after %d%n", ms, before, after);
            assertEquals(before, after, "open descriptors");
        }
    }
}
