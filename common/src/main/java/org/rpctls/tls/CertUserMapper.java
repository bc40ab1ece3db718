package org.rpctls.tls;

import static java.lang.foreign.ValueLayout.ADDRESS;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;
import org.rpctls.ffi.CStrings;
import org.rpctls.ffi.LibCrypto;
import org.rpctls.sys.Users;

/**
 * rpc.tlsservd -u: maps the subjectAltName otherName 1.3.6.1.4.1.2238.1.1.1 ("user@domain",
 * a UTF8String of 3..1024 bytes) of a verified client certificate to a uid and gid list
 * (FreeBSD §3.4). The first otherName that ends in "@domain" (case-insensitive) wins.
 */
public final class CertUserMapper {
    private CertUserMapper() {}

    public static final String OTHERNAME_OID = "1.3.6.1.4.1.2238.1.1.1";
    static final int MIN_LEN = 3;
    static final int MAX_LEN = 1024;

    /** The identity, or a note saying why there is none. */
    public record Result(Optional<Users.Identity> identity, String note) {}

    /** Maps {@code x509} (an X509*) for {@code domain} (without the '@'). */
    public static Result map(MemorySegment x509, String domain) {
        Optional<String> user = userFromCertificate(x509, domain);
        if (user.isEmpty()) return new Result(Optional.empty(), "no otherName " + OTHERNAME_OID + " ending in @" + domain);
        Optional<Users.Identity> id = Users.lookup(user.get());
        if (id.isEmpty()) return new Result(Optional.empty(), "user " + user.get() + " unknown");
        return new Result(id, null);
    }

    /** The user part of the first matching otherName. */
    public static Optional<String> userFromCertificate(MemorySegment x509, String domain) {
        MemorySegment names = LibCrypto.X509_get_ext_d2i(x509, LibCrypto.NID_subject_alt_name, MemorySegment.NULL, MemorySegment.NULL);
        if (names.equals(MemorySegment.NULL)) {
            LibCrypto.ERR_clear_error();
            return Optional.empty();
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment oid = arena.allocate(ADDRESS);
            MemorySegment value = arena.allocate(ADDRESS);
            MemorySegment oidText = arena.allocate(128);
            int n = LibCrypto.OPENSSL_sk_num(names);
            for (int i = 0; i < n; i++) {
                MemorySegment gen = LibCrypto.OPENSSL_sk_value(names, i);
                if (LibCrypto.GENERAL_NAME_get0_otherName(gen, oid, value) != 1) continue;
                int len = LibCrypto.OBJ_obj2txt(oidText, (int) oidText.byteSize(), oid.get(ADDRESS, 0), 1);
                if (len <= 0 || len >= oidText.byteSize() || !OTHERNAME_OID.equals(oidText.getString(0))) continue;
                MemorySegment type = value.get(ADDRESS, 0);
                if (type.equals(MemorySegment.NULL) || LibCrypto.ASN1_TYPE_get(type) != LibCrypto.V_ASN1_UTF8STRING) continue;
                MemorySegment str = type.reinterpret(16).get(ADDRESS, LibCrypto.ASN1_TYPE_VALUE_OFFSET);
                int slen = LibCrypto.ASN1_STRING_length(str);
                if (slen < MIN_LEN || slen > MAX_LEN) continue;
                byte[] raw = CStrings.bytes(LibCrypto.ASN1_STRING_get0_data(str), slen);
                Optional<String> user = userPart(raw, domain);
                if (user.isPresent()) return user;
            }
            return Optional.empty();
        } finally {
            LibCrypto.GENERAL_NAMES_free(names);
        }
    }

    /**
     * "user@domain" → "user" when the value ends in "@domain" (ignoring case); the user part
     * must be non-empty, valid UTF-8 and free of control characters (no NUL can sneak into getpwnam).
     */
    static Optional<String> userPart(byte[] raw, String domain) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(raw)).toString();
        } catch (CharacterCodingException e) {
            return Optional.empty();
        }
        String suffix = "@" + domain;
        if (text.length() <= suffix.length()) return Optional.empty();
        if (!text.toLowerCase(Locale.ROOT).endsWith(suffix.toLowerCase(Locale.ROOT))) return Optional.empty();
        String user = text.substring(0, text.length() - suffix.length());
        if (user.isEmpty() || user.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) return Optional.empty();
        return Optional.of(user);
    }
}
