package org.rpctls.ffi;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Finds OpenSSL 3 on Linux and FreeBSD. Sonames differ: Debian ships libssl.so.3, FreeBSD base
 * ships /usr/lib/libssl.so.30 and ports install /usr/local/lib/libssl.so.3x. libssl and
 * libcrypto are always taken from the same place so that both come from one OpenSSL build.
 * RPCTLS_LIBSSL / RPCTLS_LIBCRYPTO (paths) override the search.
 */
public final class NativeLibraries {
    /** The directories searched after the dynamic loader's own path, FreeBSD base first. */
    static final List<Path> SEARCH_DIRS = List.of(
            Path.of("/usr/lib"), Path.of("/usr/local/lib"), Path.of("/lib"),
            Path.of("/usr/lib64"), Path.of("/usr/lib/x86_64-linux-gnu"), Path.of("/usr/lib/aarch64-linux-gnu"));

    /** OpenSSL 3.x sonames: "3" (Linux) or "30".."39" (FreeBSD); 1.1's "1.1" and "111" are excluded. */
    private static final Pattern OPENSSL3_SUFFIX = Pattern.compile("3|3[0-9]");

    private static final Arena LIBRARY_ARENA = Arena.global();

    private static volatile Pair pair;

    record Pair(SymbolLookup ssl, SymbolLookup crypto, String sslName, String cryptoName) {}

    private NativeLibraries() {}

    static Pair openssl() {
        Pair p = pair;
        if (p == null) {
            synchronized (NativeLibraries.class) {
                if (pair == null) pair = locate();
                p = pair;
            }
        }
        return p;
    }

    /** Where libssl was found (for logs and --version output). */
    public static String describe() {
        Pair p = openssl();
        return p.sslName() + ", " + p.cryptoName();
    }

    private static Pair locate() {
        String sslOverride = System.getenv("RPCTLS_LIBSSL");
        String cryptoOverride = System.getenv("RPCTLS_LIBCRYPTO");
        if (sslOverride != null && cryptoOverride != null) {
            return open(sslOverride, cryptoOverride);
        }
        List<String> tried = new ArrayList<>();
        // The loader's own search path first: this is what a C daemon linked with -lssl gets.
        try {
            return open("libssl.so.3", "libcrypto.so.3");
        } catch (IllegalArgumentException e) {
            tried.add("libssl.so.3 (" + e.getMessage() + ")");
        }
        for (Path dir : SEARCH_DIRS) {
            String suffix = newestOpenssl3Suffix(dir);
            if (suffix == null) continue;
            Path ssl = dir.resolve("libssl.so." + suffix);
            Path crypto = dir.resolve("libcrypto.so." + suffix);
            if (Files.exists(crypto)) {
                try {
                    return open(ssl.toString(), crypto.toString());
                } catch (IllegalArgumentException e) {
                    tried.add(ssl + " (" + e.getMessage() + ")");
                }
            }
        }
        throw new UnsatisfiedLinkError("OpenSSL 3 (libssl.so.3 / libssl.so.3x) not found; tried "
                + tried + " and " + SEARCH_DIRS + "; set RPCTLS_LIBSSL and RPCTLS_LIBCRYPTO");
    }

    private static String newestOpenssl3Suffix(Path dir) {
        if (!Files.isDirectory(dir)) return null;
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString())
                    .filter(n -> n.startsWith("libssl.so."))
                    .map(n -> n.substring("libssl.so.".length()))
                    .filter(s -> OPENSSL3_SUFFIX.matcher(s).matches())
                    .max(Comparator.comparingInt(Integer::parseInt))
                    .orElse(null);
        } catch (IOException e) {
            return null;
        }
    }

    private static Pair open(String ssl, String crypto) {
        SymbolLookup cryptoLookup = SymbolLookup.libraryLookup(crypto, LIBRARY_ARENA);
        SymbolLookup sslLookup = SymbolLookup.libraryLookup(ssl, LIBRARY_ARENA);
        return new Pair(sslLookup, cryptoLookup, ssl, crypto);
    }
}
