package org.rpctls.rpc;

import java.io.IOException;
import java.nio.channels.CompletionHandler;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;
import org.dcache.oncrpc4j.rpc.ReplyQueue;
import org.dcache.oncrpc4j.xdr.Xdr;

/**
 * oncrpc4j's RpcTransport over a JDK stream channel (AF_UNIX) with record marking. oncrpc4j
 * itself only speaks TCP/UDP through Grizzly; this is the small piece it lacks.
 */
public final class StreamRpcTransport extends LocalRpcTransport {
    private final SocketChannel channel;
    private final ReentrantLock writeLock = new ReentrantLock();

    public StreamRpcTransport(SocketChannel channel, ReplyQueue replyQueue) {
        super(replyQueue);
        this.channel = channel;
    }

    @Override
    public <A> void send(Xdr xdr, A attachment, CompletionHandler<Integer, ? super A> handler) {
        var body = RpcPrograms.bytes(xdr);
        int n = body.remaining();
        writeLock.lock();
        try {
            RecordMarking.write(channel, body);
        } catch (IOException e) {
            sendOutcome(true);
            handler.failed(e, attachment);
            return;
        } finally {
            writeLock.unlock();
        }
        sendOutcome(false);
        handler.completed(n, attachment);
    }

    /** Reads records and hands each to {@code programs} until the peer closes; returns the reason it stopped. */
    public String serve(RpcPrograms programs, int maxRecord) {
        try {
            while (true) {
                byte[] record = RecordMarking.read(channel, maxRecord);
                if (record == null) return "closed by peer";
                programs.handle(record, this);
            }
        } catch (IOException e) {
            return e.getMessage();
        } finally {
            getReplyQueue().handleDisconnect(RpcPrograms.LOCAL);
        }
    }

    public SocketChannel channel() {
        return channel;
    }

    @Override
    public boolean isOpen() {
        return channel.isOpen();
    }
}
