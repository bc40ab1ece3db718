/*
 * The C floor of a TLS 1.3 handshake: N handshakes over loopback TCP between a server thread
 * and a client thread of this process, with the settings rpc.tlsservd / rpc.tlsclntd use
 * (common/src/main/java/org/rpctls/tls/TlsContext.java): TLS 1.3 only, OpenSSL's default
 * groups and ciphersuites, no session tickets or cache, ALPN "sunrpc", the client verifying
 * the server against the CA, optionally the server asking for and verifying a client
 * certificate (-m). Each thread reports its own CPU time (getrusage RUSAGE_THREAD) per
 * handshake, socket calls included, so the figure is what a minimal C daemon would spend.
 *
 * Build: gcc -O2 -o floor bench/floor.c -lssl -lcrypto
 * Usage: floor PKIDIR N [mtls] [warmup]   (PKIDIR as made by bench/pki.sh)
 * Prints a human line and a machine line "FLOOR mtls=M n=N server_us=S client_us=C wall_us=W".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const unsigned char alpn_sunrpc[] = {6, 's', 'u', 'n', 'r', 'p', 'c'};

struct run {
    SSL_CTX *server_ctx, *client_ctx;
    int listener;
    struct sockaddr_in addr;
    int warmup, n, mtls;
    double server_us, client_us; /* CPU per measured handshake */
    char cipher[64], group[32];
    long verify_client, verify_server;
};

static void die(const char *what) {
    fprintf(stderr, "floor: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static double thread_cpu_us(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0) die("getrusage");
    return ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
}

static int accept_all(int ok, X509_STORE_CTX *x) {
    (void)ok, (void)x;
    return 1; /* FreeBSD's server: report a bad client certificate in the flags, never fail */
}

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg) {
    (void)ssl, (void)arg;
    if (SSL_select_next_proto((unsigned char **)out, outlen, alpn_sunrpc, sizeof alpn_sunrpc, in, inlen)
        != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *context(int server, const char *pki, int mtls) {
    char cert[512], key[512], ca[512];
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) die("SSL_CTX_new");
    snprintf(cert, sizeof cert, "%s/%sdir/cert.pem", pki, server ? "server" : "client");
    snprintf(key, sizeof key, "%s/%sdir/certkey.pem", pki, server ? "server" : "client");
    snprintf(ca, sizeof ca, "%s/ca.pem", pki);
    uint64_t options = SSL_OP_ENABLE_KTLS;
    if (server) options |= SSL_OP_NO_TICKET;
    SSL_CTX_set_options(ctx, options);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) || !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
        die("versions");
    if (server) {
        SSL_CTX_set_num_tickets(ctx, 0);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    if (server || mtls) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1
            || SSL_CTX_check_private_key(ctx) != 1)
            die("certificate");
    }
    if (!server || mtls) {
        if (SSL_CTX_load_verify_file(ctx, ca) != 1) die("CA file");
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
        if (!names) die("CA names");
        if (server) SSL_CTX_set_client_CA_list(ctx, names);
        else SSL_CTX_set0_CA_list(ctx, names);
    }
    if (server) {
        if (mtls) SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_all);
        SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (SSL_CTX_set_alpn_protos(ctx, alpn_sunrpc, sizeof alpn_sunrpc) != 0) die("alpn");
    }
    /* No key log callback: the daemons install one only on Linux hosts with kernel TLS. */
    return ctx;
}

static void *server_thread(void *arg) {
    struct run *r = arg;
    double start = 0;
    for (int i = 0; i < r->warmup + r->n; i++) {
        if (i == r->warmup) start = thread_cpu_us();
        int fd = accept(r->listener, NULL, NULL);
        if (fd < 0) die("accept");
        SSL *ssl = SSL_new(r->server_ctx);
        if (!ssl || SSL_set_fd(ssl, fd) != 1) die("server SSL_new");
        if (SSL_accept(ssl) != 1) die("SSL_accept");
        /* what the daemon reads after the handshake */
        X509 *peer = SSL_get1_peer_certificate(ssl);
        r->verify_client = peer ? SSL_get_verify_result(ssl) : -1;
        X509_free(peer);
        if (i == 0) {
            snprintf(r->cipher, sizeof r->cipher, "%s", SSL_get_cipher_name(ssl));
            snprintf(r->group, sizeof r->group, "%s", OBJ_nid2sn(SSL_get_negotiated_group(ssl)));
        }
        SSL_free(ssl);
        close(fd);
    }
    r->server_us = (thread_cpu_us() - start) / r->n;
    return NULL;
}

static void *client_thread(void *arg) {
    struct run *r = arg;
    double start = 0;
    for (int i = 0; i < r->warmup + r->n; i++) {
        if (i == r->warmup) start = thread_cpu_us();
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) die("socket");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, (struct sockaddr *)&r->addr, sizeof r->addr) != 0) die("connect");
        SSL *ssl = SSL_new(r->client_ctx);
        if (!ssl || SSL_set_fd(ssl, fd) != 1) die("client SSL_new");
        if (SSL_connect(ssl) != 1) die("SSL_connect");
        r->verify_server = SSL_get_verify_result(ssl);
        if (r->verify_server != X509_V_OK) die("server certificate did not verify");
        SSL_free(ssl);
        close(fd);
    }
    r->client_us = (thread_cpu_us() - start) / r->n;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: floor PKIDIR N [mtls 0|1] [warmup]\n");
        return 2;
    }
    struct run r = {0};
    r.n = atoi(argv[2]);
    r.mtls = argc > 3 ? atoi(argv[3]) : 0;
    r.warmup = argc > 4 ? atoi(argv[4]) : 50;
    if (r.n < 1) die("N must be positive");
    r.server_ctx = context(1, argv[1], r.mtls);
    r.client_ctx = context(0, argv[1], r.mtls);

    r.listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(r.listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    r.addr.sin_family = AF_INET;
    r.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof r.addr;
    if (bind(r.listener, (struct sockaddr *)&r.addr, sizeof r.addr) != 0 || listen(r.listener, 128) != 0
        || getsockname(r.listener, (struct sockaddr *)&r.addr, &len) != 0)
        die("listen");

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t s, c;
    pthread_create(&s, NULL, server_thread, &r);
    pthread_create(&c, NULL, client_thread, &r);
    pthread_join(c, NULL);
    pthread_join(s, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall_us = ((t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3) / (r.warmup + r.n);
    if (r.mtls && r.verify_client != X509_V_OK) die("client certificate did not verify");

    printf("C floor (%s, %s %s, %s, %s): %d handshakes after %d warm-up: server %.0f us CPU, client %.0f us CPU per handshake"
           " (wall %.0f us per handshake, one at a time)\n",
           OpenSSL_version(OPENSSL_VERSION), r.cipher, r.group, r.mtls ? "mTLS" : "server certificate only",
           "ECDSA P-256 certificates", r.n, r.warmup, r.server_us, r.client_us, wall_us);
    printf("FLOOR mtls=%d n=%d server_us=%.1f client_us=%.1f wall_us=%.1f\n", r.mtls, r.n, r.server_us, r.client_us, wall_us);
    SSL_CTX_free(r.server_ctx);
    SSL_CTX_free(r.client_ctx);
    close(r.listener);
    return 0;
}
