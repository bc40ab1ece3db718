package org.rpctls.tls;

import java.nio.file.Path;

/**
 * The per-mount client certificate name (FreeBSD's mount option tlscertname=X) selects
 * X.pem and Xkey.pem in the certificate directory. The name comes from the kernel, and so
 * from whoever may mount; it must never name a file outside that directory.
 */
public final class CertNames {
    private CertNames() {}

    /** NAME_MAX minus the "key.pem" suffix. */
    public static final int MAX_LENGTH = 255 - "key.pem".length();

    /** The certificate and key files for {@code name}. */
    public record Files(Path cert, Path key) {}

    /** Validates {@code name} and resolves it; the message of the exception says what is wrong. */
    public static Files resolve(Path certDir, String name) throws HandshakeException {
        String problem = problem(name);
        if (problem != null) {
            throw new HandshakeException(HandshakeException.Reason.CONFIG, "certificate name \"" + printable(name) + "\" rejected: " + problem);
        }
        return new Files(certDir.resolve(name + ".pem"), certDir.resolve(name + "key.pem"));
    }

    /** Why {@code name} is unacceptable, or null if it is fine. */
    public static String problem(String name) {
        if (name == null || name.isEmpty()) return "empty";
        if (name.length() > MAX_LENGTH) return "longer than " + MAX_LENGTH + " characters";
        if (name.startsWith(".")) return "starts with '.'";
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '-' || c == '+' || c == '@' || c == ',' || c == '=';
            if (!ok) return "character " + (c == '/' ? "'/'" : String.format("0x%02x", (int) c)) + " not allowed";
        }
        return null;
    }

    static String printable(String s) {
        if (s == null) return "";
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && i < 80; i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7f ? String.valueOf(c) : String.format("\\x%02x", (int) c & 0xff));
        }
        if (s.length() > 80) b.append("...");
        return b.toString();
    }
}
