package org.rpctls.emulator;

import java.io.IOException;
import java.nio.channels.CompletionHandler;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.dcache.oncrpc4j.rpc.RpcAuthTypeNone;
import org.dcache.oncrpc4j.rpc.RpcCall;
import org.dcache.oncrpc4j.rpc.RpcReply;
import org.dcache.oncrpc4j.rpc.RpcTransport;
import org.dcache.oncrpc4j.xdr.XdrAble;
import org.rpctls.rpc.XdrReader;

/** The kernel's RPC client call: AUTH_NONE, one try, a fixed timeout (CLSET_RETRIES 1, CLSET_TIMEOUT). */
final class Calls {
    private Calls() {}

    static <T> T call(RpcTransport transport, int prog, int vers, int proc, XdrAble args, XdrReader.Decoder<T> decoder,
                      long timeoutMillis) throws IOException, TimeoutException, InterruptedException {
        var future = new CompletableFuture<RpcReply>();
        var call = new RpcCall(prog, vers, new RpcAuthTypeNone(), transport);
        call.call(proc, args, new CompletionHandler<RpcReply, RpcTransport>() {
            @Override
            public void completed(RpcReply reply, RpcTransport t) {
                future.complete(reply);
            }

            @Override
            public void failed(Throwable e, RpcTransport t) {
                future.completeExceptionally(e);
            }
        }, timeoutMillis, TimeUnit.MILLISECONDS);
        RpcReply reply;
        try {
            reply = future.get(timeoutMillis + 1000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TimeoutException t) throw t;
            if (e.getCause() instanceof IOException io) throw io;
            throw new IOException(e.getCause());
        }
        var reader = new XdrReader<>(decoder);
        reply.getReplyResult(reader);
        return reader.value();
    }
}
