package org.rpctls.upcall;

import org.dcache.oncrpc4j.rpc.RpcCall;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Runs one procedure on its own virtual thread; a failure is logged and answered SYSTEM_ERR. */
final class Async {
    private static final Logger LOG = LoggerFactory.getLogger("rpctls");

    private Async() {}

    interface Body {
        void run() throws Exception;
    }

    /** A procedure's answer if it can be given without waiting, else null. */
    interface Now {
        Integer tryNow() throws Exception;
    }

    /**
     * For procedures that can often be answered at once (HANDLERECORD finds its record already
     * queued): where the caller is a platform thread (the netlink reader), try {@code now} there
     * and reply with {@code reply}; otherwise, or if it would have to wait, run {@code body} on
     * a virtual thread. Starting a virtual thread from a platform thread wakes a parked carrier,
     * often on the other CPU: in the held-sessions benchmark that wake-up, not the work, made
     * HANDLERECORD's p99 (1.7 ms of "start" against 0.45 ms of work, generation 2). A virtual
     * reader (generation 1) hands the new thread to its own carrier, which costs no wake-up.
     */
    static void runNowOrAsync(RpcCall call, Now now, java.util.function.IntConsumer reply, Body body) {
        if (!Thread.currentThread().isVirtual()) {
            long t0 = System.nanoTime();
            Integer answer;
            try {
                answer = now.tryNow();
            } catch (Throwable t) {
                LOG.error("upcall xid {} procedure {} failed", Integer.toUnsignedString(call.getXid()), call.getProcedure(), t);
                call.failRpcSystem();
                UpcallLatency.record(call.getProcedure(), System.nanoTime() - t0);
                return;
            }
            if (answer != null) {
                reply.accept(answer);
                UpcallLatency.record(call.getProcedure(), System.nanoTime() - t0);
                return;
            }
        }
        run(call, body);
    }

    static void run(RpcCall call, Body body) {
        long t0 = System.nanoTime();
        Thread.ofVirtual().name("upcall-" + Integer.toUnsignedString(call.getXid())).start(() -> {
            try {
                body.run();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (Throwable t) {
                LOG.error("upcall xid {} procedure {} failed", Integer.toUnsignedString(call.getXid()), call.getProcedure(), t);
                call.failRpcSystem();
            } finally {
                UpcallLatency.record(call.getProcedure(), System.nanoTime() - t0);
            }
        });
    }
}
