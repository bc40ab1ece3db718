package org.rpctls.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * Hand-written bindings to libcrypto (OpenSSL 3), in the spirit of jextract: one static method
 * per C function, named as in C. Macros from the headers are provided as constants or as the
 * function calls they expand to.
 */
public final class LibCrypto {
    private LibCrypto() {}

    private static final Binder B = new Binder("libcrypto", NativeLibraries.openssl().crypto());

    // --- constants (openssl/*.h, OpenSSL 3.0) ---
    /** bio.h: BIO_CTRL_GET_KTLS_SEND / BIO_CTRL_GET_KTLS_RECV, used by the BIO_get_ktls_* macros. */
    public static final int BIO_CTRL_GET_KTLS_SEND = 73;
    public static final int BIO_CTRL_GET_KTLS_RECV = 76;
    /** x509_vfy.h */
    public static final int X509_V_OK = 0;
    public static final int X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT = 2;
    public static final int X509_V_ERR_UNABLE_TO_GET_CRL = 3;
    public static final int X509_V_ERR_CERT_NOT_YET_VALID = 9;
    public static final int X509_V_ERR_CERT_HAS_EXPIRED = 10;
    public static final int X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18;
    public static final int X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN = 19;
    public static final int X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20;
    public static final int X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21;
    public static final int X509_V_ERR_CERT_REVOKED = 23;
    public static final int X509_V_ERR_HOSTNAME_MISMATCH = 62;
    public static final long X509_V_FLAG_CRL_CHECK = 0x4;
    public static final long X509_V_FLAG_CRL_CHECK_ALL = 0x8;
    /** x509v3.h: X509_check_host flags. */
    public static final int X509_CHECK_FLAG_NO_WILDCARDS = 0x2;
    public static final int X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS = 0x8;
    /** x509v3.h: GENERAL_NAME types; obj_mac.h: NID_subject_alt_name; asn1.h: V_ASN1_UTF8STRING. */
    public static final int GEN_OTHERNAME = 0;
    public static final int NID_subject_alt_name = 85;
    public static final int V_ASN1_UTF8STRING = 12;
    /** asn1.h: struct asn1_type_st { int type; union { ... } value; } -- value is at offset 8 on LP64. */
    public static final long ASN1_TYPE_VALUE_OFFSET = 8;
    /** cryptlib: OpenSSL_version() selectors. */
    public static final int OPENSSL_VERSION = 0;

    // --- version ---
    private static final MethodHandle OpenSSL_version$MH = B.bind("OpenSSL_version", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle OpenSSL_version_num$MH = B.bind("OpenSSL_version_num", FunctionDescriptor.of(JAVA_LONG));

    public static String OpenSSL_version(int type) {
        try { return CStrings.read((MemorySegment) OpenSSL_version$MH.invokeExact(type)); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static long OpenSSL_version_num() {
        try { return (long) OpenSSL_version_num$MH.invokeExact(); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    // --- memory functions and library initialisation (crypto.h) ---
    /** crypto.h: OPENSSL_init_crypto option: do not register OPENSSL_cleanup with atexit(3). */
    public static final long OPENSSL_INIT_NO_ATEXIT = 0x00080000L;
    /** CRYPTO_malloc_fn: void *(*)(size_t num, const char *file, int line). */
    public static final FunctionDescriptor CRYPTO_malloc_fn = FunctionDescriptor.of(ADDRESS, JAVA_LONG, ADDRESS, JAVA_INT);
    /** CRYPTO_realloc_fn: void *(*)(void *addr, size_t num, const char *file, int line). */
    public static final FunctionDescriptor CRYPTO_realloc_fn = FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, JAVA_INT);
    /** CRYPTO_free_fn: void (*)(void *addr, const char *file, int line). */
    public static final FunctionDescriptor CRYPTO_free_fn = FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, JAVA_INT);

    private static final MethodHandle CRYPTO_set_mem_functions$MH = B.bind("CRYPTO_set_mem_functions",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle OPENSSL_init_crypto$MH = B.bind("OPENSSL_init_crypto", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS));

    /** Returns 0 when OpenSSL has already allocated memory (then the functions can no longer be replaced). */
    public static int CRYPTO_set_mem_functions(MemorySegment malloc_fn, MemorySegment realloc_fn, MemorySegment free_fn) {
        try { return (int) CRYPTO_set_mem_functions$MH.invokeExact(malloc_fn, realloc_fn, free_fn); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int OPENSSL_init_crypto(long opts, MemorySegment settings) {
        try { return (int) OPENSSL_init_crypto$MH.invokeExact(opts, settings); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    // --- error queue ---
    private static final MethodHandle ERR_get_error$MH = B.bind("ERR_get_error", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle ERR_peek_error$MH = B.bind("ERR_peek_error", FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle ERR_clear_error$MH = B.bind("ERR_clear_error", FunctionDescriptor.ofVoid());
    private static final MethodHandle ERR_error_string_n$MH = B.bind("ERR_error_string_n", FunctionDescriptor.ofVoid(JAVA_LONG, ADDRESS, JAVA_LONG));
    private static final MethodHandle ERR_get_error_all$MH = B.bind("ERR_get_error_all",
            FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));

    public static long ERR_get_error() {
        try { return (long) ERR_get_error$MH.invokeExact(); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static long ERR_peek_error() {
        try { return (long) ERR_peek_error$MH.invokeExact(); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static void ERR_clear_error() {
        try { ERR_clear_error$MH.invokeExact(); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static void ERR_error_string_n(long e, MemorySegment buf, long len) {
        try { ERR_error_string_n$MH.invokeExact(e, buf, len); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static long ERR_get_error_all(MemorySegment file, MemorySegment line, MemorySegment func, MemorySegment data, MemorySegment flags) {
        try { return (long) ERR_get_error_all$MH.invokeExact(file, line, func, data, flags); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    // --- BIO ---
    private static final MethodHandle BIO_ctrl$MH = B.bind("BIO_ctrl", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle BIO_new_file$MH = B.bind("BIO_new_file", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle BIO_new_mem_buf$MH = B.bind("BIO_new_mem_buf", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle BIO_free$MH = B.bind("BIO_free", FunctionDescriptor.of(JAVA_INT, ADDRESS));

    public static long BIO_ctrl(MemorySegment bio, int cmd, long larg, MemorySegment parg) {
        try { return (long) BIO_ctrl$MH.invokeExact(bio, cmd, larg, parg); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    /** Macro: {@code BIO_get_ktls_send(b)} = {@code BIO_ctrl(b, BIO_CTRL_GET_KTLS_SEND, 0, NULL) > 0}. */
    public static boolean BIO_get_ktls_send(MemorySegment bio) {
        return BIO_ctrl(bio, BIO_CTRL_GET_KTLS_SEND, 0, MemorySegment.NULL) > 0;
    }
    /** Macro: {@code BIO_get_ktls_recv(b)} = {@code BIO_ctrl(b, BIO_CTRL_GET_KTLS_RECV, 0, NULL) > 0}. */
    public static boolean BIO_get_ktls_recv(MemorySegment bio) {
        return BIO_ctrl(bio, BIO_CTRL_GET_KTLS_RECV, 0, MemorySegment.NULL) > 0;
    }
    public static MemorySegment BIO_new_file(MemorySegment filename, MemorySegment mode) {
        try { return (MemorySegment) BIO_new_file$MH.invokeExact(filename, mode); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment BIO_new_mem_buf(MemorySegment buf, int len) {
        try { return (MemorySegment) BIO_new_mem_buf$MH.invokeExact(buf, len); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int BIO_free(MemorySegment bio) {
        try { return (int) BIO_free$MH.invokeExact(bio); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    // --- X509 ---
    private static final MethodHandle X509_free$MH = B.bind("X509_free", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle X509_up_ref$MH = B.bind("X509_up_ref", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle X509_get_subject_name$MH = B.bind("X509_get_subject_name", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle X509_get_issuer_name$MH = B.bind("X509_get_issuer_name", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle X509_NAME_oneline$MH = B.bind("X509_NAME_oneline", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle X509_check_host$MH = B.bind("X509_check_host",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS));
    private static final MethodHandle X509_verify_cert_error_string$MH = B.bind("X509_verify_cert_error_string", FunctionDescriptor.of(ADDRESS, JAVA_LONG));
    private static final MethodHandle X509_get_ext_d2i$MH = B.bind("X509_get_ext_d2i", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle X509_check_ip_asc$MH = B.bind("X509_check_ip_asc", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle d2i_X509$MH = B.bind("d2i_X509", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
    private static final MethodHandle d2i_AutoPrivateKey$MH = B.bind("d2i_AutoPrivateKey", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));
    private static final MethodHandle EVP_PKEY_free$MH = B.bind("EVP_PKEY_free", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle PEM_read_bio_X509$MH = B.bind("PEM_read_bio_X509", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));

    public static void X509_free(MemorySegment x) {
        try { X509_free$MH.invokeExact(x); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int X509_up_ref(MemorySegment x) {
        try { return (int) X509_up_ref$MH.invokeExact(x); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment X509_get_subject_name(MemorySegment x) {
        try { return (MemorySegment) X509_get_subject_name$MH.invokeExact(x); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment X509_get_issuer_name(MemorySegment x) {
        try { return (MemorySegment) X509_get_issuer_name$MH.invokeExact(x); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment X509_NAME_oneline(MemorySegment name, MemorySegment buf, int size) {
        try { return (MemorySegment) X509_NAME_oneline$MH.invokeExact(name, buf, size); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int X509_check_host(MemorySegment x, MemorySegment chk, long chklen, int flags, MemorySegment peername) {
        try { return (int) X509_check_host$MH.invokeExact(x, chk, chklen, flags, peername); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static String X509_verify_cert_error_string(long n) {
        try { return CStrings.read((MemorySegment) X509_verify_cert_error_string$MH.invokeExact(n)); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment X509_get_ext_d2i(MemorySegment x, int nid, MemorySegment crit, MemorySegment idx) {
        try { return (MemorySegment) X509_get_ext_d2i$MH.invokeExact(x, nid, crit, idx); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int X509_check_ip_asc(MemorySegment x, MemorySegment address, int flags) {
        try { return (int) X509_check_ip_asc$MH.invokeExact(x, address, flags); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    /** X509 *d2i_X509(X509 **a, const unsigned char **pp, long length) */
    public static MemorySegment d2i_X509(MemorySegment a, MemorySegment pp, long length) {
        try { return (MemorySegment) d2i_X509$MH.invokeExact(a, pp, length); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    /** EVP_PKEY *d2i_AutoPrivateKey(EVP_PKEY **a, const unsigned char **pp, long length) */
    public static MemorySegment d2i_AutoPrivateKey(MemorySegment a, MemorySegment pp, long length) {
        try { return (MemorySegment) d2i_AutoPrivateKey$MH.invokeExact(a, pp, length); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static void EVP_PKEY_free(MemorySegment pkey) {
        try { EVP_PKEY_free$MH.invokeExact(pkey); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment PEM_read_bio_X509(MemorySegment bio, MemorySegment x, MemorySegment cb, MemorySegment u) {
        try { return (MemorySegment) PEM_read_bio_X509$MH.invokeExact(bio, x, cb, u); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    // --- subjectAltName otherName (for the -u user mapping) ---
    private static final MethodHandle GENERAL_NAMES_free$MH = B.bind("GENERAL_NAMES_free", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle GENERAL_NAME_get0_otherName$MH = B.bind("GENERAL_NAME_get0_otherName",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle OPENSSL_sk_num$MH = B.bind("OPENSSL_sk_num", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle OPENSSL_sk_value$MH = B.bind("OPENSSL_sk_value", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle OBJ_obj2txt$MH = B.bind("OBJ_obj2txt", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle ASN1_TYPE_get$MH = B.bind("ASN1_TYPE_get", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle ASN1_STRING_length$MH = B.bind("ASN1_STRING_length", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle ASN1_STRING_get0_data$MH = B.bind("ASN1_STRING_get0_data", FunctionDescriptor.of(ADDRESS, ADDRESS));

    public static void GENERAL_NAMES_free(MemorySegment names) {
        try { GENERAL_NAMES_free$MH.invokeExact(names); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int GENERAL_NAME_get0_otherName(MemorySegment gen, MemorySegment poid, MemorySegment pvalue) {
        try { return (int) GENERAL_NAME_get0_otherName$MH.invokeExact(gen, poid, pvalue); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int OPENSSL_sk_num(MemorySegment sk) {
        try { return (int) OPENSSL_sk_num$MH.invokeExact(sk); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment OPENSSL_sk_value(MemorySegment sk, int i) {
        try { return (MemorySegment) OPENSSL_sk_value$MH.invokeExact(sk, i); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int OBJ_obj2txt(MemorySegment buf, int len, MemorySegment obj, int noName) {
        try { return (int) OBJ_obj2txt$MH.invokeExact(buf, len, obj, noName); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int ASN1_TYPE_get(MemorySegment a) {
        try { return (int) ASN1_TYPE_get$MH.invokeExact(a); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int ASN1_STRING_length(MemorySegment s) {
        try { return (int) ASN1_STRING_length$MH.invokeExact(s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment ASN1_STRING_get0_data(MemorySegment s) {
        try { return (MemorySegment) ASN1_STRING_get0_data$MH.invokeExact(s); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    // --- certificate store and CRLs ---
    private static final MethodHandle X509_STORE_set_flags$MH = B.bind("X509_STORE_set_flags", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle X509_STORE_add_crl$MH = B.bind("X509_STORE_add_crl", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle PEM_read_bio_X509_CRL$MH = B.bind("PEM_read_bio_X509_CRL", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle X509_CRL_free$MH = B.bind("X509_CRL_free", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle X509_CRL_get0_by_cert$MH = B.bind("X509_CRL_get0_by_cert", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));

    public static int X509_STORE_set_flags(MemorySegment store, long flags) {
        try { return (int) X509_STORE_set_flags$MH.invokeExact(store, flags); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int X509_STORE_add_crl(MemorySegment store, MemorySegment crl) {
        try { return (int) X509_STORE_add_crl$MH.invokeExact(store, crl); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment PEM_read_bio_X509_CRL(MemorySegment bio, MemorySegment x, MemorySegment cb, MemorySegment u) {
        try { return (MemorySegment) PEM_read_bio_X509_CRL$MH.invokeExact(bio, x, cb, u); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static void X509_CRL_free(MemorySegment crl) {
        try { X509_CRL_free$MH.invokeExact(crl); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int X509_CRL_get0_by_cert(MemorySegment crl, MemorySegment ret, MemorySegment x) {
        try { return (int) X509_CRL_get0_by_cert$MH.invokeExact(crl, ret, x); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    /** Every symbol this class bound (all resolved when the class initialised). */
    public static List<String> boundSymbols() {
        return B.names();
    }
}
