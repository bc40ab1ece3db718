/*
 * What OpenSSL keeps allocated per held TLS session, by allocation site: N client/server pairs
 * over socketpairs in one thread, with the SSL_CTX settings of rpc.tlsclntd / rpc.tlsservd
 * (common/src/main/java/org/rpctls/tls/TlsContext.java: TLS 1.3 only, RELEASE_BUFFERS, ALPN
 * "sunrpc", server without tickets or cache, client not verifying unless VERIFY=1), and after
 * the handshake what the daemon does (SSL_get1_peer_certificate on the client). OpenSSL's
 * malloc/realloc/free are replaced (CRYPTO_set_mem_functions) to record each live block with
 * its file:line and malloc_usable_size; blocks live at the end are summed per site and role,
 * divided by N. glibc adds about 8 bytes of chunk header per block (printed apart).
 *
 * Build: gcc -O1 -o session-allocs bench/session-allocs.c -lssl -lcrypto
 * Usage: session-allocs CERTDIR N [tickets]   (CERTDIR holds cert.pem and certkey.pem)
 *   tickets = K: the server sends OpenSSL's default 2 NewSessionTickets and the client reads
 *                K times with SSL_read(0), as HANDLERECORD does.
 * Environment: VERIFY=1 the client verifies the server (CA = cert.pem);
 *   AFTER=read0|keyupdate|closenotify  a HANDLERECORD on each client session: nothing queued,
 *                a KeyUpdate from the server, or the server's close_notify (answered);
 *   FREEBUF=1    then SSL_free_buffers, as TlsSession.releaseBuffers does.
 * Figures: docs/performance-mem.md, "Held sessions, session 4".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TABLE (1 << 22)
struct block { void *p; const char *file; int line; int role; size_t size; };
static struct block *table;
static int role; /* 0 set-up, 1 client session, 2 server session, 3 neither */
#define TOMB ((void *)1)

static unsigned long slot(void *p) { return ((unsigned long)p >> 4) * 2654435761u % TABLE; }
static void put(void *p, const char *f, int l) {
    unsigned long i = slot(p);
    while (table[i].p && table[i].p != TOMB) i = (i + 1) % TABLE;
    table[i] = (struct block){p, f, l, role, malloc_usable_size(p)};
}
static void del(void *p) {
    for (unsigned long i = slot(p); table[i].p; i = (i + 1) % TABLE)
        if (table[i].p == p) { table[i].p = TOMB; return; }
}
static void *m(size_t n, const char *f, int l) { void *p = malloc(n); if (p) put(p, f, l); return p; }
static void *r(void *o, size_t n, const char *f, int l) {
    if (o) del(o);
    void *p = realloc(o, n);
    if (p) put(p, f, l); else if (o && n) put(o, f, l);
    return p;
}
static void fr(void *p, const char *f, int l) { (void)f; (void)l; if (p) del(p); free(p); }

static const unsigned char alpn[] = {6, 's', 'u', 'n', 'r', 'p', 'c'};
static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen, const unsigned char *in, unsigned int inlen, void *a) {
    (void)s; (void)inlen; (void)a;
    *out = in + 1; *outlen = in[0];
    return SSL_TLSEXT_ERR_OK;
}

struct site { const char *file; int line; long bytes, n; };
static int by_bytes(const void *a, const void *b) {
    const struct site *x = a, *y = b;
    return y->bytes > x->bytes ? 1 : y->bytes < x->bytes ? -1 : 0;
}
static void report(int which, int n) {
    static struct site s[20000];
    int ns = 0; long bytes = 0, blocks = 0;
    for (long i = 0; i < TABLE; i++) {
        if (!table[i].p || table[i].p == TOMB || table[i].role != which) continue;
        int j;
        for (j = 0; j < ns; j++) if (s[j].line == table[i].line && strcmp(s[j].file, table[i].file) == 0) break;
        if (j == ns) s[ns++] = (struct site){table[i].file, table[i].line, 0, 0};
        s[j].bytes += table[i].size; s[j].n++; bytes += table[i].size; blocks++;
    }
    qsort(s, ns, sizeof s[0], by_bytes);
    printf("== %s session: %.0f bytes in %.1f blocks (usable sizes; + about %.0f of glibc chunk headers)\n",
           which == 1 ? "client" : "server", (double)bytes / n, (double)blocks / n, blocks * 8.0 / n);
    for (int j = 0; j < ns; j++)
        if (s[j].bytes * 10 >= n) printf("%8.1f B %6.2f blocks  %s:%d\n", (double)s[j].bytes / n, (double)s[j].n / n, s[j].file, s[j].line);
}

static void handle_record(SSL *c, SSL *s, const char *what) {
    char b[1];
    if (strcmp(what, "keyupdate") == 0) {
        role = 2; SSL_key_update(s, SSL_KEY_UPDATE_NOT_REQUESTED); SSL_do_handshake(s);
    } else if (strcmp(what, "closenotify") == 0) {
        role = 2; SSL_shutdown(s);
    }
    role = 1;
    SSL_read(c, b, 0);
    ERR_clear_error();
    if (strcmp(what, "closenotify") == 0) { SSL_shutdown(c); ERR_clear_error(); }
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s CERTDIR N [tickets]\n", argv[0]); return 2; }
    table = calloc(TABLE, sizeof *table);
    if (!CRYPTO_set_mem_functions(m, r, fr)) { fprintf(stderr, "CRYPTO_set_mem_functions failed\n"); return 1; }
    int n = atoi(argv[2]), tickets = argc > 3 ? atoi(argv[3]) : 0, warm = 50;
    const char *after = getenv("AFTER");
    char cert[512], key[512];
    snprintf(cert, sizeof cert, "%s/cert.pem", argv[1]);
    snprintf(key, sizeof key, "%s/certkey.pem", argv[1]);
    SSL_CTX *sc = SSL_CTX_new(TLS_server_method()), *cc = SSL_CTX_new(TLS_client_method());
    long modes = SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS;
    SSL_CTX_set_options(sc, SSL_OP_ENABLE_KTLS | (tickets ? 0 : SSL_OP_NO_TICKET));
    SSL_CTX_set_options(cc, SSL_OP_ENABLE_KTLS);
    SSL_CTX_set_mode(sc, modes);
    SSL_CTX_set_mode(cc, modes);
    SSL_CTX_set_min_proto_version(sc, TLS1_3_VERSION); SSL_CTX_set_max_proto_version(sc, TLS1_3_VERSION);
    SSL_CTX_set_min_proto_version(cc, TLS1_3_VERSION); SSL_CTX_set_max_proto_version(cc, TLS1_3_VERSION);
    if (!tickets) { SSL_CTX_set_num_tickets(sc, 0); SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF); }
    if (SSL_CTX_use_certificate_chain_file(sc, cert) != 1 || SSL_CTX_use_PrivateKey_file(sc, key, SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr); return 1;
    }
    SSL_CTX_set_alpn_select_cb(sc, alpn_cb, NULL);
    SSL_CTX_set_alpn_protos(cc, alpn, sizeof alpn);
    if (getenv("VERIFY")) { SSL_CTX_load_verify_file(cc, cert); SSL_CTX_set_verify(cc, SSL_VERIFY_PEER, NULL); }
    SSL **cs = calloc(n + warm, sizeof *cs), **ss = calloc(n + warm, sizeof *ss);
    X509 **peer = calloc(n + warm, sizeof *peer);
    for (int i = 0; i < n + warm; i++) {
        if (i == warm) { /* the first sessions warm OpenSSL's caches up and are freed */
            role = 3;
            for (int k = 0; k < warm; k++) { SSL_free(cs[k]); SSL_free(ss[k]); X509_free(peer[k]); }
        }
        int fds[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) { perror("socketpair"); return 1; }
        fcntl(fds[0], F_SETFL, O_NONBLOCK); fcntl(fds[1], F_SETFL, O_NONBLOCK);
        role = 1; SSL *c = SSL_new(cc); SSL_set_fd(c, fds[0]); SSL_set_connect_state(c);
        role = 2; SSL *s = SSL_new(sc); SSL_set_fd(s, fds[1]); SSL_set_accept_state(s);
        int cdone = 0, sdone = 0;
        for (int round = 0; round < 100 && !(cdone && sdone); round++) {
            role = 1;
            if (!cdone) { int x = SSL_do_handshake(c); if (x == 1) cdone = 1; else if (SSL_get_error(c, x) != SSL_ERROR_WANT_READ) { ERR_print_errors_fp(stderr); return 1; } }
            role = 2;
            if (!sdone) { int x = SSL_do_handshake(s); if (x == 1) sdone = 1; else if (SSL_get_error(s, x) != SSL_ERROR_WANT_READ) { ERR_print_errors_fp(stderr); return 1; } }
        }
        if (!(cdone && sdone)) { fprintf(stderr, "handshake did not finish\n"); return 1; }
        role = 1;
        peer[i] = SSL_get1_peer_certificate(c);
        for (int k = 0; k < tickets; k++) { char b[1]; SSL_read(c, b, 0); ERR_clear_error(); }
        if (after) handle_record(c, s, after);
        if (getenv("FREEBUF") && SSL_has_pending(c) == 0 && SSL_free_buffers(c) != 1) fprintf(stderr, "SSL_free_buffers refused\n");
        role = 3;
        cs[i] = c; ss[i] = s;
    }
    printf("%d sessions, %s\n", n, OpenSSL_version(OPENSSL_VERSION));
    report(1, n);
    report(2, n);
    return 0;
}
