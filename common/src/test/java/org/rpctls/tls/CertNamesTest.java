package org.rpctls.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class CertNamesTest {
    private final Path dir = Path.of("/etc/rpc.tlsclntd");

    @Test
    void plainNameSelectsPemAndKeyPem() throws Exception {
        var f = CertNames.resolve(dir, "nfsclient");
        assertEquals(Path.of("/etc/rpc.tlsclntd/nfsclient.pem"), f.cert());
        assertEquals(Path.of("/etc/rpc.tlsclntd/nfsclientkey.pem"), f.key());
        assertNull(CertNames.problem("host-1.example_org@x"));
    }

    @Test
    void namesThatEscapeTheDirectoryAreRejected() {
        for (String bad : new String[] {"", "../etc/passwd", "a/b", "/abs", ".hidden", "..", "a\u0000b", "a\nb", "x".repeat(300)}) {
            var e = assertThrows(HandshakeException.class, () -> CertNames.resolve(dir, bad), bad);
            assertEquals(HandshakeException.Reason.CONFIG, e.reason());
            assertTrue(e.getMessage().startsWith("certificate name"), e.getMessage());
            assertTrue(e.getMessage().chars().allMatch(c -> c >= 0x20 && c < 0x7f), "printable: " + e.getMessage());
        }
    }
}
