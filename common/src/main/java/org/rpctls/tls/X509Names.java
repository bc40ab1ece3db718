package org.rpctls.tls;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import org.rpctls.ffi.LibCrypto;

/** Subject/issuer text and host-name matching of an X509*. */
public final class X509Names {
    private X509Names() {}

    public static String subject(MemorySegment x509) {
        return oneline(LibCrypto.X509_get_subject_name(x509));
    }

    public static String issuer(MemorySegment x509) {
        return oneline(LibCrypto.X509_get_issuer_name(x509));
    }

    static boolean isIpLiteral(String name) {
        if (name.indexOf(':') >= 0) return name.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':' || c == '.');
        String[] parts = name.split("\\.", -1);
        if (parts.length != 4) return false;
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Character::isDigit) || Integer.parseInt(p) > 255) return false;
        }
        return true;
    }

    private static String oneline(MemorySegment name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(1024);
            LibCrypto.X509_NAME_oneline(name, buf, (int) buf.byteSize());
            return buf.getString(0);
        }
    }

    /**
     * X509_check_host(cert, name, flags) == 1: SAN dNSName (or CN when there is none) matches.
     * An IP literal (a mount by address) is matched against the iPAddress SANs instead.
     */
    public static boolean checkHost(MemorySegment x509, String name, int flags) {
        if (isIpLiteral(name)) {
            try (Arena arena = Arena.ofConfined()) {
                int r = LibCrypto.X509_check_ip_asc(x509, arena.allocateFrom(name), 0);
                if (r < 0) LibCrypto.ERR_clear_error();
                return r == 1;
            }
        }
        byte[] raw = name.getBytes(StandardCharsets.UTF_8);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(raw.length + 1L);
            MemorySegment.copy(MemorySegment.ofArray(raw), 0, s, 0, raw.length);
            int r = LibCrypto.X509_check_host(x509, s, raw.length, flags, MemorySegment.NULL);
            if (r < 0) LibCrypto.ERR_clear_error();
            return r == 1;
        }
    }
}
