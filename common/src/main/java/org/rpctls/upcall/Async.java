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
