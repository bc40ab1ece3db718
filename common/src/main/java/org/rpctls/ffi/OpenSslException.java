package org.rpctls.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * An OpenSSL call failed; the message carries the thread's OpenSSL error queue, drained.
 *
 * <p>The error queue is per OS thread. A virtual thread stays on its carrier between two
 * native calls as long as it does not block in between, so callers drain the queue right after
 * the failing call, before logging or waiting on anything.
 */
public class OpenSslException extends RuntimeException {
    private final List<String> queue;

    public OpenSslException(String what) {
        this(what, drainErrorQueue());
    }

    protected OpenSslException(String what, List<String> queue) {
        super(queue.isEmpty() ? what : what + ": " + String.join("; ", queue));
        this.queue = queue;
    }

    /** The OpenSSL error-queue entries that explained the failure, oldest first. */
    public List<String> errorQueue() {
        return queue;
    }

    /** Empties this thread's OpenSSL error queue and returns its entries as text, oldest first. */
    public static List<String> drainErrorQueue() {
        List<String> out = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(256);
            MemorySegment data = arena.allocate(ADDRESS);
            MemorySegment flags = arena.allocate(JAVA_INT);
            for (int i = 0; i < 32; i++) {
                long e = LibCrypto.ERR_get_error_all(MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL, data, flags);
                if (e == 0) break;
                LibCrypto.ERR_error_string_n(e, buf, buf.byteSize());
                String text = buf.getString(0);
                // ERR_TXT_STRING (0x02): the data is a readable string, e.g. the file name that failed.
                if ((flags.get(JAVA_INT, 0) & 0x02) != 0) {
                    String extra = CStrings.read(data.get(ADDRESS, 0));
                    if (extra != null && !extra.isEmpty()) text += " (" + extra + ")";
                }
                out.add(text);
            }
            LibCrypto.ERR_clear_error();
        }
        return out;
    }
}
