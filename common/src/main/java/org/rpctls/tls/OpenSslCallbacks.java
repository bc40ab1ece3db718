package org.rpctls.tls;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.rpctls.ffi.CStrings;
import org.rpctls.ffi.LibSsl;

/**
 * The upcall stubs OpenSSL calls back into: verify, ALPN select and keylog. They are created
 * once per process in the global arena (they must outlive every SSL_CTX) and are stateless;
 * per-connection state is looked up by the SSL* address. An exception escaping an upcall
 * would kill the JVM, so each one catches everything.
 */
final class OpenSslCallbacks {
    private OpenSslCallbacks() {}

    /** RFC 9289 §4.1: the ALPN protocol id for ONC RPC over TLS. */
    static final byte[] ALPN_SUNRPC = {'s', 'u', 'n', 'r', 'p', 'c'};

    /** Per-connection keylog sinks, by SSL* address; present only while a handshake asks for secrets. */
    private static final Map<Long, Consumer<String>> KEYLOG_SINKS = new ConcurrentHashMap<>();

    private static final Linker LINKER = Linker.nativeLinker();

    static final MemorySegment VERIFY_ACCEPT_ALL;
    static final MemorySegment ALPN_SELECT;
    static final MemorySegment KEYLOG;

    static {
        try {
            var lookup = MethodHandles.lookup();
            Arena global = Arena.global();
            VERIFY_ACCEPT_ALL = LINKER.upcallStub(lookup.findStatic(OpenSslCallbacks.class, "verifyAcceptAll",
                    MethodType.methodType(int.class, int.class, MemorySegment.class)), LibSsl.SSL_verify_cb, global);
            ALPN_SELECT = LINKER.upcallStub(lookup.findStatic(OpenSslCallbacks.class, "alpnSelect",
                    MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class, MemorySegment.class,
                            MemorySegment.class, int.class, MemorySegment.class)), LibSsl.SSL_CTX_alpn_select_cb_func, global);
            KEYLOG = LINKER.upcallStub(lookup.findStatic(OpenSslCallbacks.class, "keylog",
                    MethodType.methodType(void.class, MemorySegment.class, MemorySegment.class)), LibSsl.SSL_CTX_keylog_cb_func, global);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * FreeBSD's server (-m) verify callback: always continue, so that a bad client certificate
     * never fails the handshake; SSL_get_verify_result still records why it did not verify and
     * the connection's flags say so.
     */
    static int verifyAcceptAll(int preverifyOk, MemorySegment storeCtx) {
        return 1;
    }

    /**
     * Server ALPN: pick "sunrpc" when the client offers it; otherwise answer without ALPN
     * (NOACK) instead of failing, since FreeBSD's and Linux's clients send no ALPN at all.
     */
    static int alpnSelect(MemorySegment ssl, MemorySegment out, MemorySegment outlen, MemorySegment in, int inlen, MemorySegment arg) {
        try {
            long len = Integer.toUnsignedLong(inlen);
            MemorySegment list = in.reinterpret(len);
            long i = 0;
            while (i < len) {
                int l = Byte.toUnsignedInt(list.get(JAVA_BYTE, i));
                if (i + 1 + l > len) break;
                if (l == ALPN_SUNRPC.length && matches(list, i + 1)) {
                    out.reinterpret(ADDRESS.byteSize()).set(ADDRESS, 0, list.asSlice(i + 1, l));
                    outlen.reinterpret(1).set(JAVA_BYTE, 0, (byte) l);
                    return LibSsl.SSL_TLSEXT_ERR_OK;
                }
                i += 1 + l;
            }
            return LibSsl.SSL_TLSEXT_ERR_NOACK;
        } catch (Throwable t) {
            return LibSsl.SSL_TLSEXT_ERR_NOACK;
        }
    }

    private static boolean matches(MemorySegment list, long at) {
        for (int k = 0; k < ALPN_SUNRPC.length; k++) {
            if (list.get(JAVA_BYTE, at + k) != ALPN_SUNRPC[k]) return false;
        }
        return true;
    }

    /** NSS key log lines (e.g. "CLIENT_TRAFFIC_SECRET_0 <random> <secret>") for connections that asked. */
    static void keylog(MemorySegment ssl, MemorySegment line) {
        try {
            Consumer<String> sink = KEYLOG_SINKS.get(ssl.address());
            if (sink != null) sink.accept(CStrings.read(line));
        } catch (Throwable t) {
            // nothing may escape an upcall
        }
    }

    static void registerKeylog(MemorySegment ssl, Consumer<String> sink) {
        KEYLOG_SINKS.put(ssl.address(), sink);
    }

    static void unregisterKeylog(MemorySegment ssl) {
        KEYLOG_SINKS.remove(ssl.address());
    }
}
