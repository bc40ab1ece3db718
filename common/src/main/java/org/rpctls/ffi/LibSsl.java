package org.rpctls.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * Hand-written bindings to libssl (OpenSSL 3), in the spirit of jextract: one static method per
 * C function, named as in C; the header macros we need are constants or the calls they expand to.
 */
public final class LibSsl {
    private LibSsl() {}

    private static final Binder B = new Binder("libssl", NativeLibraries.openssl().ssl());

    // --- constants (ssl.h, tls1.h, prov_ssl.h) ---
    public static final int SSL_FILETYPE_PEM = 1;
    public static final int SSL_FILETYPE_ASN1 = 2;
    public static final int SSL_VERIFY_NONE = 0x00;
    public static final int SSL_VERIFY_PEER = 0x01;
    public static final int SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 0x02;
    /** SSL_OP_BIT(3): let OpenSSL hand the record layer to kernel TLS. */
    public static final long SSL_OP_ENABLE_KTLS = 0x8L;
    /** SSL_OP_BIT(14): no RFC 5077 tickets (kernels would drop them; they would also sit in the socket). */
    public static final long SSL_OP_NO_TICKET = 0x4000L;
    public static final int SSL_CTRL_SET_SESS_CACHE_MODE = 44;
    public static final int SSL_CTRL_MODE = 33;
    public static final int SSL_CTRL_CLEAR_MODE = 78;
    public static final int SSL_CTRL_SET_MIN_PROTO_VERSION = 123;
    public static final int SSL_CTRL_SET_MAX_PROTO_VERSION = 124;
    public static final long SSL_SESS_CACHE_OFF = 0;
    public static final int SSL_CTRL_SET_TLSEXT_HOSTNAME = 55;
    public static final int TLSEXT_NAMETYPE_host_name = 0;
    /** SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER: needed for non-blocking writes. */
    public static final long SSL_MODE_ENABLE_PARTIAL_WRITE = 0x1L;
    public static final long SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER = 0x2L;
    /** SSL_MODE_RELEASE_BUFFERS: free the record buffers (about 34 KiB) while no record is in flight. */
    public static final long SSL_MODE_RELEASE_BUFFERS = 0x10L;
    public static final int TLS1_2_VERSION = 0x0303;
    public static final int TLS1_3_VERSION = 0x0304;
    public static final int SSL_ERROR_NONE = 0;
    public static final int SSL_ERROR_SSL = 1;
    public static final int SSL_ERROR_WANT_READ = 2;
    public static final int SSL_ERROR_WANT_WRITE = 3;
    public static final int SSL_ERROR_WANT_X509_LOOKUP = 4;
    public static final int SSL_ERROR_SYSCALL = 5;
    public static final int SSL_ERROR_ZERO_RETURN = 6;
    public static final int SSL_SENT_SHUTDOWN = 1;
    public static final int SSL_RECEIVED_SHUTDOWN = 2;
    public static final int SSL_TLSEXT_ERR_OK = 0;
    public static final int SSL_TLSEXT_ERR_ALERT_FATAL = 2;
    public static final int SSL_TLSEXT_ERR_NOACK = 3;

    // --- callback signatures, for Linker.upcallStub ---
    /** int (*verify_callback)(int preverify_ok, X509_STORE_CTX *ctx) */
    public static final FunctionDescriptor SSL_verify_cb = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS);
    /** int (*cb)(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in, unsigned int inlen, void *arg) */
    public static final FunctionDescriptor SSL_CTX_alpn_select_cb_func =
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS);
    /** void (*cb)(const SSL *ssl, const char *line) */
    public static final FunctionDescriptor SSL_CTX_keylog_cb_func = FunctionDescriptor.ofVoid(ADDRESS, ADDRESS);

    // --- methods and contexts ---
    private static final MethodHandle TLS_server_method$MH = B.bind("TLS_server_method", FunctionDescriptor.of(ADDRESS));
    private static final MethodHandle TLS_client_method$MH = B.bind("TLS_client_method", FunctionDescriptor.of(ADDRESS));
    private static final MethodHandle SSL_CTX_new$MH = B.bind("SSL_CTX_new", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle SSL_CTX_up_ref$MH = B.bind("SSL_CTX_up_ref", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle SSL_CTX_free$MH = B.bind("SSL_CTX_free", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle SSL_CTX_set_options$MH = B.bind("SSL_CTX_set_options", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG));
    private static final MethodHandle SSL_CTX_ctrl$MH = B.bind("SSL_CTX_ctrl", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle SSL_CTX_set_ciphersuites$MH = B.bind("SSL_CTX_set_ciphersuites", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SSL_CTX_set_num_tickets$MH = B.bind("SSL_CTX_set_num_tickets", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle SSL_CTX_use_certificate_chain_file$MH = B.bind("SSL_CTX_use_certificate_chain_file", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SSL_CTX_use_PrivateKey_file$MH = B.bind("SSL_CTX_use_PrivateKey_file", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle SSL_CTX_check_private_key$MH = B.bind("SSL_CTX_check_private_key", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle SSL_CTX_load_verify_file$MH = B.bind("SSL_CTX_load_verify_file", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SSL_CTX_load_verify_dir$MH = B.bind("SSL_CTX_load_verify_dir", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SSL_CTX_set_default_verify_paths$MH = B.bind("SSL_CTX_set_default_verify_paths", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle SSL_load_client_CA_file$MH = B.bind("SSL_load_client_CA_file", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle SSL_CTX_set_client_CA_list$MH = B.bind("SSL_CTX_set_client_CA_list", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
    private static final MethodHandle SSL_CTX_set0_CA_list$MH = B.bind("SSL_CTX_set0_CA_list", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));
    private static final MethodHandle SSL_CTX_get_cert_store$MH = B.bind("SSL_CTX_get_cert_store", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle SSL_CTX_set_verify$MH = B.bind("SSL_CTX_set_verify", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT, ADDRESS));
    private static final MethodHandle SSL_CTX_set_alpn_protos$MH = B.bind("SSL_CTX_set_alpn_protos", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle SSL_CTX_set_alpn_select_cb$MH = B.bind("SSL_CTX_set_alpn_select_cb", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle SSL_CTX_set_keylog_callback$MH = B.bind("SSL_CTX_set_keylog_callback", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS));

    public static MemorySegment TLS_server_method() {
        try { return (MemorySegment) TLS_server_method$MH.invokeExact(); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment TLS_client_method() {
        try { return (MemorySegment) TLS_client_method$MH.invokeExact(); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment SSL_CTX_new(MemorySegment method) {
        try { return (MemorySegment) SSL_CTX_new$MH.invokeExact(method); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_CTX_up_ref(MemorySegment ctx) {
        try { return (int) SSL_CTX_up_ref$MH.invokeExact(ctx); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static void SSL_CTX_free(MemorySegment ctx) {
        try { SSL_CTX_free$MH.invokeExact(ctx); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static long SSL_CTX_set_options(MemorySegment ctx, long op) {
        try { return (long) SSL_CTX_set_options$MH.invokeExact(ctx, op); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static long SSL_CTX_ctrl(MemorySegment ctx, int cmd, long larg, MemorySegment parg) {
        try { return (long) SSL_CTX_ctrl$MH.invokeExact(ctx, cmd, larg, parg); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    /** Macro: SSL_CTX_set_min_proto_version(ctx, v). */
    public static boolean SSL_CTX_set_min_proto_version(MemorySegment ctx, int version) {
        return SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, version, MemorySegment.NULL) == 1;
    }
    /** Macro: SSL_CTX_set_max_proto_version(ctx, v). */
    public static boolean SSL_CTX_set_max_proto_version(MemorySegment ctx, int version) {
        return SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, version, MemorySegment.NULL) == 1;
    }
    /** Macro: SSL_CTX_set_session_cache_mode(ctx, m). */
    public static long SSL_CTX_set_session_cache_mode(MemorySegment ctx, long mode) {
        return SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE, mode, MemorySegment.NULL);
    }
    /** Macro: SSL_CTX_set_mode(ctx, m). */
    public static long SSL_CTX_set_mode(MemorySegment ctx, long mode) {
        return SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, mode, MemorySegment.NULL);
    }
    public static int SSL_CTX_set_ciphersuites(MemorySegment ctx, MemorySegment str) {
        try { return (int) SSL_CTX_set_ciphersuites$MH.invokeExact(ctx, str); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_CTX_set_num_tickets(MemorySegment ctx, long n) {
        try { return (int) SSL_CTX_set_num_tickets$MH.invokeExact(ctx, n); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_CTX_use_certificate_chain_file(MemorySegment ctx, MemorySegment file) {
        try { return (int) SSL_CTX_use_certificate_chain_file$MH.invokeExact(ctx, file); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_CTX_use_PrivateKey_file(MemorySegment ctx, MemorySegment file, int type) {
        try { return (int) SSL_CTX_use_PrivateKey_file$MH.invokeExact(ctx, file, type); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_CTX_check_private_key(MemorySegment ctx) {
        try { return (int) SSL_CTX_check_private_key$MH.invokeExact(ctx); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_CTX_load_verify_file(MemorySegment ctx, MemorySegment file) {
        try { return (int) SSL_CTX_load_verify_file$MH.invokeExact(ctx, file); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_CTX_load_verify_dir(MemorySegment ctx, MemorySegment dir) {
        try { return (int) SSL_CTX_load_verify_dir$MH.invokeExact(ctx, dir); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_CTX_set_default_verify_paths(MemorySegment ctx) {
        try { return (int) SSL_CTX_set_default_verify_paths$MH.invokeExact(ctx); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment SSL_load_client_CA_file(MemorySegment file) {
        try { return (MemorySegment) SSL_load_client_CA_file$MH.invokeExact(file); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static void SSL_CTX_set_client_CA_list(MemorySegment ctx, MemorySegment list) {
        try { SSL_CTX_set_client_CA_list$MH.invokeExact(ctx, list); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static void SSL_CTX_set0_CA_list(MemorySegment ctx, MemorySegment list) {
        try { SSL_CTX_set0_CA_list$MH.invokeExact(ctx, list); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment SSL_CTX_get_cert_store(MemorySegment ctx) {
        try { return (MemorySegment) SSL_CTX_get_cert_store$MH.invokeExact(ctx); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static void SSL_CTX_set_verify(MemorySegment ctx, int mode, MemorySegment callback) {
        try { SSL_CTX_set_verify$MH.invokeExact(ctx, mode, callback); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_CTX_set_alpn_protos(MemorySegment ctx, MemorySegment protos, int len) {
        try { return (int) SSL_CTX_set_alpn_protos$MH.invokeExact(ctx, protos, len); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static void SSL_CTX_set_alpn_select_cb(MemorySegment ctx, MemorySegment cb, MemorySegment arg) {
        try { SSL_CTX_set_alpn_select_cb$MH.invokeExact(ctx, cb, arg); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static void SSL_CTX_set_keylog_callback(MemorySegment ctx, MemorySegment cb) {
        try { SSL_CTX_set_keylog_callback$MH.invokeExact(ctx, cb); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    // --- connections ---
    private static final MethodHandle SSL_new$MH = B.bind("SSL_new", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle SSL_free$MH = B.bind("SSL_free", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle SSL_set_fd$MH = B.bind("SSL_set_fd", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SSL_ctrl$MH = B.bind("SSL_ctrl", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle SSL_set_connect_state$MH = B.bind("SSL_set_connect_state", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle SSL_set_accept_state$MH = B.bind("SSL_set_accept_state", FunctionDescriptor.ofVoid(ADDRESS));
    private static final MethodHandle SSL_do_handshake$MH = B.bind("SSL_do_handshake", FunctionDescriptor.of(JAVA_INT, ADDRESS), ErrnoCapture.OPTION);
    private static final MethodHandle SSL_get_error$MH = B.bind("SSL_get_error", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SSL_read$MH = B.bind("SSL_read", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), ErrnoCapture.OPTION);
    private static final MethodHandle SSL_write$MH = B.bind("SSL_write", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), ErrnoCapture.OPTION);
    private static final MethodHandle SSL_shutdown$MH = B.bind("SSL_shutdown", FunctionDescriptor.of(JAVA_INT, ADDRESS), ErrnoCapture.OPTION);
    private static final MethodHandle SSL_set_shutdown$MH = B.bind("SSL_set_shutdown", FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT));
    private static final MethodHandle SSL_get_shutdown$MH = B.bind("SSL_get_shutdown", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle SSL_has_pending$MH = B.bind("SSL_has_pending", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle SSL_free_buffers$MH = B.bind("SSL_free_buffers", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle SSL_get_rbio$MH = B.bind("SSL_get_rbio", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle SSL_get_wbio$MH = B.bind("SSL_get_wbio", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle SSL_get_version$MH = B.bind("SSL_get_version", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle SSL_version$MH = B.bind("SSL_version", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle SSL_get_current_cipher$MH = B.bind("SSL_get_current_cipher", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle SSL_CIPHER_get_name$MH = B.bind("SSL_CIPHER_get_name", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle SSL_get1_peer_certificate$MH = B.bind("SSL_get1_peer_certificate", FunctionDescriptor.of(ADDRESS, ADDRESS));
    private static final MethodHandle SSL_get_verify_result$MH = B.bind("SSL_get_verify_result", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
    private static final MethodHandle SSL_get0_alpn_selected$MH = B.bind("SSL_get0_alpn_selected", FunctionDescriptor.ofVoid(ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle SSL_use_certificate_chain_file$MH = B.bind("SSL_use_certificate_chain_file", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SSL_use_PrivateKey_file$MH = B.bind("SSL_use_PrivateKey_file", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle SSL_use_certificate$MH = B.bind("SSL_use_certificate", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SSL_use_PrivateKey$MH = B.bind("SSL_use_PrivateKey", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SSL_check_private_key$MH = B.bind("SSL_check_private_key", FunctionDescriptor.of(JAVA_INT, ADDRESS));

    public static MemorySegment SSL_new(MemorySegment ctx) {
        try { return (MemorySegment) SSL_new$MH.invokeExact(ctx); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static void SSL_free(MemorySegment ssl) {
        try { SSL_free$MH.invokeExact(ssl); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_set_fd(MemorySegment ssl, int fd) {
        try { return (int) SSL_set_fd$MH.invokeExact(ssl, fd); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static long SSL_ctrl(MemorySegment ssl, int cmd, long larg, MemorySegment parg) {
        try { return (long) SSL_ctrl$MH.invokeExact(ssl, cmd, larg, parg); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    /** Macro: SSL_set_tlsext_host_name(s, name) -- the SNI the client sends. */
    public static boolean SSL_set_tlsext_host_name(MemorySegment ssl, MemorySegment name) {
        return SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, name) == 1;
    }
    public static void SSL_set_connect_state(MemorySegment ssl) {
        try { SSL_set_connect_state$MH.invokeExact(ssl); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static void SSL_set_accept_state(MemorySegment ssl) {
        try { SSL_set_accept_state$MH.invokeExact(ssl); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    // SSL_do_handshake/read/write/shutdown capture errno: it explains SSL_ERROR_SYSCALL (see LibC.errno()).
    public static int SSL_do_handshake(MemorySegment ssl) {
        MemorySegment e = ErrnoCapture.buffer();
        try { return io((int) SSL_do_handshake$MH.invokeExact(e, ssl), e); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_get_error(MemorySegment ssl, int ret) {
        try { return (int) SSL_get_error$MH.invokeExact(ssl, ret); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_read(MemorySegment ssl, MemorySegment buf, int num) {
        MemorySegment e = ErrnoCapture.buffer();
        try { return io((int) SSL_read$MH.invokeExact(e, ssl, buf, num), e); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_write(MemorySegment ssl, MemorySegment buf, int num) {
        MemorySegment e = ErrnoCapture.buffer();
        try { return io((int) SSL_write$MH.invokeExact(e, ssl, buf, num), e); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_shutdown(MemorySegment ssl) {
        MemorySegment e = ErrnoCapture.buffer();
        try { return io((int) SSL_shutdown$MH.invokeExact(e, ssl), e); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    private static int io(int ret, MemorySegment errnoState) {
        if (ret <= 0) ErrnoCapture.record(errnoState);
        return ret;
    }
    public static void SSL_set_shutdown(MemorySegment ssl, int mode) {
        try { SSL_set_shutdown$MH.invokeExact(ssl, mode); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_get_shutdown(MemorySegment ssl) {
        try { return (int) SSL_get_shutdown$MH.invokeExact(ssl); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    /** 1 if bytes read from the socket are still unprocessed in the SSL (e.g. part of a record). */
    public static int SSL_has_pending(MemorySegment ssl) {
        try { return (int) SSL_has_pending$MH.invokeExact(ssl); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    /**
     * Frees the SSL's record buffers now (OpenSSL allocates them again for the next record); 1 if
     * freed or already free, 0 if refused because data is pending. Call it only when
     * {@link #SSL_has_pending} is 0: OpenSSL before 3.0.14 / 1.1.1y did not refuse when a
     * processed record was still unread (CVE-2024-4741).
     */
    public static int SSL_free_buffers(MemorySegment ssl) {
        try { return (int) SSL_free_buffers$MH.invokeExact(ssl); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment SSL_get_rbio(MemorySegment ssl) {
        try { return (MemorySegment) SSL_get_rbio$MH.invokeExact(ssl); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment SSL_get_wbio(MemorySegment ssl) {
        try { return (MemorySegment) SSL_get_wbio$MH.invokeExact(ssl); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static String SSL_get_version(MemorySegment ssl) {
        try { return CStrings.read((MemorySegment) SSL_get_version$MH.invokeExact(ssl)); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_version(MemorySegment ssl) {
        try { return (int) SSL_version$MH.invokeExact(ssl); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment SSL_get_current_cipher(MemorySegment ssl) {
        try { return (MemorySegment) SSL_get_current_cipher$MH.invokeExact(ssl); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static String SSL_CIPHER_get_name(MemorySegment cipher) {
        try { return CStrings.read((MemorySegment) SSL_CIPHER_get_name$MH.invokeExact(cipher)); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static MemorySegment SSL_get1_peer_certificate(MemorySegment ssl) {
        try { return (MemorySegment) SSL_get1_peer_certificate$MH.invokeExact(ssl); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static long SSL_get_verify_result(MemorySegment ssl) {
        try { return (long) SSL_get_verify_result$MH.invokeExact(ssl); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static void SSL_get0_alpn_selected(MemorySegment ssl, MemorySegment data, MemorySegment len) {
        try { SSL_get0_alpn_selected$MH.invokeExact(ssl, data, len); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_use_certificate_chain_file(MemorySegment ssl, MemorySegment file) {
        try { return (int) SSL_use_certificate_chain_file$MH.invokeExact(ssl, file); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_use_PrivateKey_file(MemorySegment ssl, MemorySegment file, int type) {
        try { return (int) SSL_use_PrivateKey_file$MH.invokeExact(ssl, file, type); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_use_certificate(MemorySegment ssl, MemorySegment x509) {
        try { return (int) SSL_use_certificate$MH.invokeExact(ssl, x509); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_use_PrivateKey(MemorySegment ssl, MemorySegment pkey) {
        try { return (int) SSL_use_PrivateKey$MH.invokeExact(ssl, pkey); } catch (Throwable t) { throw Binder.rethrow(t); }
    }
    public static int SSL_check_private_key(MemorySegment ssl) {
        try { return (int) SSL_check_private_key$MH.invokeExact(ssl); } catch (Throwable t) { throw Binder.rethrow(t); }
    }

    /** Every symbol this class bound (all resolved when the class initialised). */
    public static List<String> boundSymbols() {
        return B.names();
    }
}
