package org.rpctls.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** HKDF-Expand-Label as RFC 8448 and OpenSSL's own HKDF compute it. */
class KtlsReceiveTest {
    static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replace(" ", ""));
    }

    @Test
    void rfc8448ServerHandshakeKeys() throws Exception {
        byte[] secret = hex("b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38");
        assertArrayEquals(hex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc"), KtlsReceive.expandLabel("HmacSHA256", secret, "key", 16));
        assertArrayEquals(hex("5d 31 3e b2 67 12 76 ee 13 00 0b 30"), KtlsReceive.expandLabel("HmacSHA256", secret, "iv", 12));
    }

    @Test
    void agreesWithOpensslKdf() throws Exception {
        PeerCheck.requireOpenssl();
        byte[] secret = new byte[48];
        new Random(9).nextBytes(secret);
        // info for "tls13 key", 32 bytes: 0020 09 "tls13 key" 00
        String info = "0020" + "09" + HexFormat.of().formatHex("tls13 key".getBytes()) + "00";
        Process p = new ProcessBuilder("openssl", "kdf", "-keylen", "32", "-kdfopt", "digest:SHA384", "-kdfopt", "mode:EXPAND_ONLY",
                "-kdfopt", "hexkey:" + HexFormat.of().formatHex(secret), "-kdfopt", "hexinfo:" + info, "HKDF").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim().replace(":", "");
        assertEquals(0, p.waitFor(), out);
        assertEquals(out.toLowerCase(), HexFormat.of().formatHex(KtlsReceive.expandLabel("HmacSHA384", secret, "key", 32)));
    }

    @Test
    void suitesMapToKernelCipherTypes() {
        assertEquals(51, KtlsReceive.suite("TLS_AES_128_GCM_SHA256").cipherType());
        assertEquals(52, KtlsReceive.suite("TLS_AES_256_GCM_SHA384").cipherType());
        assertEquals(54, KtlsReceive.suite("TLS_CHACHA20_POLY1305_SHA256").cipherType());
        assertEquals(null, KtlsReceive.suite("ECDHE-ECDSA-AES256-GCM-SHA384"));
    }

    static final class PeerCheck {
        static void requireOpenssl() {
            for (String d : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
                if (new java.io.File(d, "openssl").canExecute()) return;
            }
            throw new AssertionError("openssl is not installed (tools/setup installs it)");
        }
    }
}
