package org.rpctls.linux;

import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.rpctls.ffi.LibC;
import org.rpctls.tls.Role;

/**
 * Installs the receive side of Linux kernel TLS for TLS 1.3, which OpenSSL 3.0 does not do
 * (it installs only the send side): the read traffic secret from the key log callback,
 * HKDF-Expand-Label (RFC 8446 §7.1, §7.3) for key and iv, a {@code tls12_crypto_info_*} with
 * record sequence 0 (nothing was read past the handshake, and servers send no tickets), and
 * setsockopt(SOL_TLS, TLS_RX). OpenSSL does not know about it (its 3.0 record layer cannot
 * read TLS 1.3 records the kernel decrypted), so control records on such a connection are
 * read with {@link KtlsRecords} instead of SSL_read.
 */
public final class KtlsReceive {
    private KtlsReceive() {}

    static final int TLS_1_3_VERSION = 0x0304;
    /** sizeof the union in OpenSSL's struct tls_crypto_info_all (the largest tls12_crypto_info_*). */
    static final int CRYPTO_INFO_UNION = 56;

    /** A TLS 1.3 suite as the kernel knows it. */
    record Suite(String hmac, int keyLength, int cipherType, boolean salted, int infoSize) {}

    static Suite suite(String cipher) {
        return switch (cipher) {
            case "TLS_AES_128_GCM_SHA256" -> new Suite("HmacSHA256", 16, 51, true, 40);
            case "TLS_AES_256_GCM_SHA384" -> new Suite("HmacSHA384", 32, 52, true, 56);
            case "TLS_AES_128_CCM_SHA256" -> new Suite("HmacSHA256", 16, 53, true, 40);
            case "TLS_CHACHA20_POLY1305_SHA256" -> new Suite("HmacSHA256", 32, 54, false, 56);
            default -> null;
        };
    }

    private static volatile Boolean available;

    /** Whether this kernel offers the "tls" ULP at all (Linux only). */
    public static boolean kernelHasTls() {
        Boolean a = available;
        if (a == null) {
            try {
                a = !LibC.FREEBSD && Files.readString(Path.of("/proc/sys/net/ipv4/tcp_available_ulp")).contains("tls");
            } catch (Exception e) {
                a = false;
            }
            available = a;
        }
        return a;
    }

    /** Thrown when the receive side cannot be installed; the message says why. */
    public static final class KtlsException extends Exception {
        KtlsException(String m) {
            super(m);
        }
    }

    /**
     * Installs TLS_RX on {@code fd} for the TLS 1.3 connection {@code ssl}; {@code keyLog} holds the
     * NSS key log lines of this handshake. The server reads with the client's secret and vice versa.
     */
    public static void install(MemorySegment ssl, int fd, Role role, String cipher, List<String> keyLog) throws KtlsException {
        Suite suite = suite(cipher);
        if (suite == null) throw new KtlsException("cipher " + cipher + " has no kernel TLS support");
        String label = role == Role.SERVER ? "CLIENT_TRAFFIC_SECRET_0 " : "SERVER_TRAFFIC_SECRET_0 ";
        byte[] secret = null;
        for (String line : keyLog) {
            if (line.startsWith(label)) {
                String[] f = line.split(" ");
                if (f.length == 3) secret = HexFormat.of().parseHex(f[2]);
            }
        }
        if (secret == null) throw new KtlsException("no " + label.trim() + " in the key log");
        byte[] key = null;
        byte[] iv = null;
        try (Arena arena = Arena.ofConfined()) {
            key = expandLabel(suite.hmac(), secret, "key", suite.keyLength());
            iv = expandLabel(suite.hmac(), secret, "iv", 12);
            MemorySegment info = arena.allocate(CRYPTO_INFO_UNION + 8L, 8);
            info.set(JAVA_SHORT, 0, (short) TLS_1_3_VERSION);
            info.set(JAVA_SHORT, 2, (short) suite.cipherType());
            // struct tls12_crypto_info_X { info; iv[8 or 12]; key[16/32]; salt[4 or 0]; rec_seq[8] }
            long off = 4;
            if (suite.salted()) {
                MemorySegment.copy(MemorySegment.ofArray(iv), 4, info, off, 8);
                off += 8;
                MemorySegment.copy(MemorySegment.ofArray(key), 0, info, off, key.length);
                off += key.length;
                MemorySegment.copy(MemorySegment.ofArray(iv), 0, info, off, 4);
                off += 4;
            } else {
                MemorySegment.copy(MemorySegment.ofArray(iv), 0, info, off, 12);
                off += 12;
                MemorySegment.copy(MemorySegment.ofArray(key), 0, info, off, key.length);
                off += key.length;
            }
            // rec_seq stays 0: OpenSSL read nothing after the peer's Finished
            if (off + 8 != suite.infoSize()) throw new IllegalStateException("crypto_info layout " + (off + 8) + " != " + suite.infoSize());
            if (LibC.setsockopt(fd, LibC.SOL_TLS, LibC.TLS_RX, info, suite.infoSize()) != 0) {
                throw new KtlsException("setsockopt(SOL_TLS, TLS_RX): " + LibC.strerror(LibC.errno()));
            }
            info.fill((byte) 0);
        } catch (GeneralSecurityException e) {
            throw new KtlsException("HKDF: " + e.getMessage());
        } finally {
            Arrays.fill(secret, (byte) 0);
            if (key != null) Arrays.fill(key, (byte) 0);
            if (iv != null) Arrays.fill(iv, (byte) 0);
        }
    }

    /** HKDF-Expand-Label(secret, label, "", length) of RFC 8446 §7.1. */
    static byte[] expandLabel(String hmac, byte[] secret, String label, int length) throws GeneralSecurityException {
        byte[] full = ("tls13 " + label).getBytes(StandardCharsets.US_ASCII);
        byte[] info = new byte[2 + 1 + full.length + 1];
        info[0] = (byte) (length >> 8);
        info[1] = (byte) length;
        info[2] = (byte) full.length;
        System.arraycopy(full, 0, info, 3, full.length);
        info[info.length - 1] = 0; // empty context
        return expand(hmac, secret, info, length);
    }

    /** HKDF-Expand (RFC 5869 §2.3). */
    static byte[] expand(String hmac, byte[] prk, byte[] info, int length) throws GeneralSecurityException {
        Mac mac = Mac.getInstance(hmac);
        mac.init(new SecretKeySpec(prk, hmac));
        byte[] out = new byte[length];
        byte[] t = new byte[0];
        int done = 0;
        for (int i = 1; done < length; i++) {
            mac.update(t);
            mac.update(info);
            mac.update((byte) i);
            t = mac.doFinal();
            int n = Math.min(t.length, length - done);
            System.arraycopy(t, 0, out, done, n);
            done += n;
        }
        return out;
    }

}
