package org.rpctls.rpc;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.CompletionHandler;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;
import org.dcache.oncrpc4j.rpc.ReplyQueue;
import org.dcache.oncrpc4j.rpc.RpcAuthError;
import org.dcache.oncrpc4j.rpc.RpcAuthException;
import org.dcache.oncrpc4j.rpc.RpcAuthStat;
import org.dcache.oncrpc4j.rpc.RpcTransport;
import org.dcache.oncrpc4j.xdr.Xdr;

/**
 * oncrpc4j's RpcTransport over a JDK stream channel (AF_UNIX) with record marking. oncrpc4j
 * itself only speaks TCP/UDP through Grizzly; this is the small piece it lacks.
 */
public final class StreamRpcTransport implements RpcTransport {
    private final SocketChannel channel;
    private final ReplyQueue replyQueue;
    private final ReentrantLock writeLock = new ReentrantLock();

    public StreamRpcTransport(SocketChannel channel, ReplyQueue replyQueue) {
        this.channel = channel;
        this.replyQueue = replyQueue;
    }

    @Override
    public <A> void send(Xdr xdr, A attachment, CompletionHandler<Integer, ? super A> handler) {
        var body = RpcPrograms.bytes(xdr);
        int n = body.remaining();
        writeLock.lock();
        try {
            RecordMarking.write(channel, body);
        } catch (IOException e) {
            handler.failed(e, attachment);
            return;
        } finally {
            writeLock.unlock();
        }
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
            replyQueue.handleDisconnect(RpcPrograms.LOCAL);
        }
    }

    public SocketChannel channel() {
        return channel;
    }

    @Override
    public ReplyQueue getReplyQueue() {
        return replyQueue;
    }

    @Override
    public boolean isOpen() {
        return channel.isOpen();
    }

    @Override
    public InetSocketAddress getLocalSocketAddress() {
        return RpcPrograms.LOCAL;
    }

    @Override
    public InetSocketAddress getRemoteSocketAddress() {
        return RpcPrograms.LOCAL;
    }

    @Override
    public RpcTransport getPeerTransport() {
        return this;
    }

    /** The kernel calls with AUTH_NONE; an AUTH_TLS credential makes no sense on a local upcall. */
    @Override
    public void startTLS() throws RpcAuthException {
        throw new RpcAuthException("AUTH_TLS on a local upcall channel", new RpcAuthError(RpcAuthStat.AUTH_REJECTEDCRED));
    }

    @Override
    public boolean isTLS() {
        return false;
    }
}
