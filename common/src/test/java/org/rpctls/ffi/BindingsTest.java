package org.rpctls.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BindingsTest {
    @Test
    void everyBoundSymbolResolves() {
        // Class initialisation binds every handle eagerly: reaching here means all resolved.
        // Check again, by name, through each library's own lookup, and count them.
        List<String> missing = new ArrayList<>();
        var ssl = NativeLibraries.openssl().ssl();
        var crypto = NativeLibraries.openssl().crypto();
        for (String s : LibSsl.boundSymbols()) if (ssl.find(s).isEmpty()) missing.add("libssl:" + s);
        for (String s : LibCrypto.boundSymbols()) if (crypto.find(s).isEmpty()) missing.add("libcrypto:" + s);
        for (String s : LibC.boundSymbols()) if (Binder.LINKER.defaultLookup().find(s).isEmpty()) missing.add("libc:" + s);
        assertEquals(List.of(), missing);
        assertTrue(LibSsl.boundSymbols().size() >= 40, "libssl symbols: " + LibSsl.boundSymbols().size());
        assertTrue(LibCrypto.boundSymbols().size() >= 30, "libcrypto symbols: " + LibCrypto.boundSymbols().size());
        assertTrue(LibC.boundSymbols().size() >= 25, "libc symbols: " + LibC.boundSymbols().size());
        System.out.printf("bound: libssl %d, libcrypto %d, libc %d symbols (%s)%n",
                LibSsl.boundSymbols().size(), LibCrypto.boundSymbols().size(), LibC.boundSymbols().size(), NativeLibraries.describe());
    }

    @Test
    void opensslIsVersion3() {
        long v = LibCrypto.OpenSSL_version_num();
        assertTrue(v >= 0x30000000L && v < 0x40000000L, Long.toHexString(v));
        assertTrue(LibCrypto.OpenSSL_version(LibCrypto.OPENSSL_VERSION).startsWith("OpenSSL 3."));
    }

    @Test
    void errnoIsCapturedPerCall() {
        assertEquals(-1, LibC.close(-1));
        assertEquals(LibC.EBADF, LibC.errno());
        var e = SystemCallException.lastError("close");
        assertTrue(e.getMessage().startsWith("close: Bad file descriptor"), e.getMessage());
    }

    @Test
    void openSslErrorQueueBecomesExceptionText() {
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            var bio = LibCrypto.BIO_new_file(arena.allocateFrom("/nonexistent/rpctls"), arena.allocateFrom("r"));
            assertTrue(bio.equals(java.lang.foreign.MemorySegment.NULL));
        }
        var ex = new OpenSslException("open");
        assertFalse(ex.errorQueue().isEmpty());
        assertTrue(ex.getMessage().contains("No such file"), ex.getMessage());
        assertEquals(0, LibCrypto.ERR_peek_error(), "queue drained");
    }
}
