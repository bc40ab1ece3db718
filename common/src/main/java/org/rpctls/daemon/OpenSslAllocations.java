package org.rpctls.daemon;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.atomic.LongAdder;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.LibCrypto;

/**
 * Opt-in accounting of OpenSSL's heap (RPCTLS_COUNT_OPENSSL_ALLOCS=1): OpenSSL's malloc, realloc
 * and free are replaced (CRYPTO_set_mem_functions) by upcall stubs that call libc's and count the
 * live bytes (malloc_usable_size of each block) and the live blocks. Off by default: nothing is
 * replaced and nothing is counted then.
 *
 * <p>CRYPTO_set_mem_functions only works before OpenSSL's first allocation, so {@link #install()}
 * must run before any OpenSSL call that allocates (the daemon's main calls it right after parsing
 * the command line). malloc_usable_size instead of a size header: a block that reaches free
 * without having come from our malloc (none should, but a header would corrupt it) stays
 * harmless; the count then is only off.
 *
 * <p>The stubs must never throw: an exception in an upcall aborts the JVM. Each catches
 * everything and answers as a failed allocation (NULL) would.
 *
 * <p>Limit: a thread that used OpenSSL frees its OpenSSL state from a pthread destructor when it
 * ends, through the free stub. While the JVM runs the FFM runtime attaches such a thread for the
 * call; once the JVM shuts down it cannot, and HotSpot aborts. The daemons end with System.exit
 * (their threads are not ended one by one), so this only bites a program whose main thread returns
 * after turning the accounting on. Another reason to keep it a soak-test mode.
 */
public final class OpenSslAllocations {
    private OpenSslAllocations() {}

    /** The environment variable that turns the accounting on ("1"). */
    public static final String ENV = "RPCTLS_COUNT_OPENSSL_ALLOCS";

    private static final LongAdder LIVE_BYTES = new LongAdder();
    private static final LongAdder LIVE_ALLOCS = new LongAdder();
    private static volatile boolean active;
    private static volatile String installResult = "off";

    /** True while OpenSSL allocates through the counting functions. */
    public static boolean active() {
        return active;
    }

    /** For the start-up log: "off", "on" or why it could not be turned on. */
    public static String installResult() {
        return installResult;
    }

    public static long liveBytes() {
        return LIVE_BYTES.sum();
    }

    public static long liveAllocs() {
        return LIVE_ALLOCS.sum();
    }

    /** Installs the counting functions if {@link #ENV} is "1"; a failure is remembered for the log, never fatal. */
    public static synchronized void installIfRequested() {
        if (!"1".equals(System.getenv(ENV)) || active) return;
        installResult = install();
    }

    private static String install() {
        try {
            var lookup = MethodHandles.lookup();
            Linker linker = Linker.nativeLinker();
            Arena arena = Arena.global(); // the stubs live as long as the process: OpenSSL keeps the pointers
            MemorySegment m = linker.upcallStub(lookup.findStatic(OpenSslAllocations.class, "malloc",
                    MethodType.methodType(MemorySegment.class, long.class, MemorySegment.class, int.class)), LibCrypto.CRYPTO_malloc_fn, arena);
            MemorySegment r = linker.upcallStub(lookup.findStatic(OpenSslAllocations.class, "realloc",
                    MethodType.methodType(MemorySegment.class, MemorySegment.class, long.class, MemorySegment.class, int.class)),
                    LibCrypto.CRYPTO_realloc_fn, arena);
            MemorySegment f = linker.upcallStub(lookup.findStatic(OpenSslAllocations.class, "free",
                    MethodType.methodType(void.class, MemorySegment.class, MemorySegment.class, int.class)), LibCrypto.CRYPTO_free_fn, arena);
            if (LibCrypto.CRYPTO_set_mem_functions(m, r, f) == 0) {
                return "not available: OpenSSL had already allocated memory (CRYPTO_set_mem_functions returned 0)";
            }
            active = true;
            // No atexit(OPENSSL_cleanup): it would call the free stub from exit(3) while the JVM is
            // being torn down, and an upcall then can hang or crash. The kernel reclaims the memory anyway.
            if (LibCrypto.OPENSSL_init_crypto(LibCrypto.OPENSSL_INIT_NO_ATEXIT, MemorySegment.NULL) != 1) {
                return "on (OPENSSL_init_crypto failed)";
            }
            return "on";
        } catch (ReflectiveOperationException | RuntimeException e) {
            return "not available: " + e;
        }
    }

    // The three functions OpenSSL calls. OpenSSL's own CRYPTO_malloc returns NULL for 0 bytes; so do these.

    static MemorySegment malloc(long num, MemorySegment file, int line) {
        try {
            if (num == 0) return MemorySegment.NULL;
            MemorySegment p = LibC.malloc(num);
            if (p.address() != 0) counted(p);
            return p;
        } catch (Throwable t) {
            return MemorySegment.NULL;
        }
    }

    static MemorySegment realloc(MemorySegment addr, long num, MemorySegment file, int line) {
        try {
            if (addr.address() == 0) return malloc(num, file, line);
            if (num == 0) {
                free(addr, file, line);
                return MemorySegment.NULL;
            }
            long before = LibC.malloc_usable_size(addr);
            MemorySegment p = LibC.realloc(addr, num);
            if (p.address() != 0) LIVE_BYTES.add(LibC.malloc_usable_size(p) - before); // else the old block is untouched
            return p;
        } catch (Throwable t) {
            return MemorySegment.NULL;
        }
    }

    static void free(MemorySegment addr, MemorySegment file, int line) {
        try {
            if (addr.address() == 0) return;
            LIVE_BYTES.add(-LibC.malloc_usable_size(addr));
            LIVE_ALLOCS.decrement();
            LibC.free(addr);
        } catch (Throwable t) {
            // nothing sensible to do; never let it cross into OpenSSL
        }
    }

    private static void counted(MemorySegment p) {
        LIVE_BYTES.add(LibC.malloc_usable_size(p));
        LIVE_ALLOCS.increment();
    }
}
