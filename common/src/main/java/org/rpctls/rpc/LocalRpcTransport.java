package org.rpctls.rpc;

import java.net.InetSocketAddress;
import org.dcache.oncrpc4j.rpc.ReplyQueue;
import org.dcache.oncrpc4j.rpc.RpcAuthError;
import org.dcache.oncrpc4j.rpc.RpcAuthException;
import org.dcache.oncrpc4j.rpc.RpcAuthStat;
import org.dcache.oncrpc4j.rpc.RpcTransport;

/**
 * What every upcall transport answers the same way: there is no IP peer (oncrpc4j's API wants
 * an address; {@link RpcPrograms#LOCAL} stands in), no TLS on the upcall channel itself, and
 * replies are matched through one ReplyQueue. Subclasses frame and send.
 */
public abstract class LocalRpcTransport implements RpcTransport {
    private final ReplyQueue replyQueue;

    /**
     * Whether the last send made by the current thread failed. oncrpc4j's RpcCall.reply swallows
     * a send failure; the daemon needs it for CONNECT, whose session must not outlive a reply the
     * kernel never got. reply() sends on the calling thread, so a thread-local is exact.
     */
    private static final ThreadLocal<Boolean> LAST_SEND_FAILED = ThreadLocal.withInitial(() -> false);

    /** Subclasses record each send's outcome here. */
    protected static void sendOutcome(boolean failed) {
        LAST_SEND_FAILED.set(failed);
    }

    /** True if the last send on this thread (such as the one inside RpcCall.reply) failed. */
    public static boolean lastSendFailed() {
        return LAST_SEND_FAILED.get();
    }

    protected LocalRpcTransport(ReplyQueue replyQueue) {
        this.replyQueue = replyQueue;
    }

    @Override
    public ReplyQueue getReplyQueue() {
        return replyQueue;
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

    /** The kernel calls with AUTH_NONE; an AUTH_TLS credential makes no sense on an upcall channel. */
    @Override
    public void startTLS() throws RpcAuthException {
        throw new RpcAuthException("AUTH_TLS on an upcall channel", new RpcAuthError(RpcAuthStat.AUTH_REJECTEDCRED));
    }

    @Override
    public boolean isTLS() {
        return false;
    }
}
