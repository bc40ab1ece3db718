package org.rpctls.ffi;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * errno as C code sees it, captured by FFM right after a native call returns
 * (Linker.Option.captureCallState). Calls bound with {@link #OPTION} take a capture buffer as
 * their first argument; the wrappers record errno per thread when the call says it failed.
 */
final class ErrnoCapture {
    private ErrnoCapture() {}

    static final Linker.Option OPTION = Linker.Option.captureCallState("errno");
    private static final StructLayout LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    /** One capture buffer per thread (virtual threads included), released with the thread by GC. */
    private static final ThreadLocal<MemorySegment> BUFFER = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(LAYOUT));
    private static final ThreadLocal<int[]> LAST = ThreadLocal.withInitial(() -> new int[1]);

    static MemorySegment buffer() {
        return BUFFER.get();
    }

    static void record(MemorySegment state) {
        LAST.get()[0] = (int) ERRNO.get(state, 0L);
    }

    static int last() {
        return LAST.get()[0];
    }
}
