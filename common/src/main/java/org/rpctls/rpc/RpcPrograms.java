package org.rpctls.rpc;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.dcache.oncrpc4j.rpc.MismatchInfo;
import org.dcache.oncrpc4j.rpc.OncRpcException;
import org.dcache.oncrpc4j.rpc.OncRpcProgram;
import org.dcache.oncrpc4j.rpc.RpcAccepsStatus;
import org.dcache.oncrpc4j.rpc.RpcCall;
import org.dcache.oncrpc4j.rpc.RpcDispatchable;
import org.dcache.oncrpc4j.rpc.RpcException;
import org.dcache.oncrpc4j.rpc.RpcMessageType;
import org.dcache.oncrpc4j.rpc.RpcMismatchReply;
import org.dcache.oncrpc4j.rpc.RpcRejectStatus;
import org.dcache.oncrpc4j.rpc.RpcReply;
import org.dcache.oncrpc4j.rpc.RpcTransport;
import org.dcache.oncrpc4j.rpc.OncRpcAcceptedException;
import org.dcache.oncrpc4j.rpc.OncRpcRejectedException;
import org.dcache.oncrpc4j.xdr.Xdr;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ONC RPC message layer over any framing: calls go to the registered program (or are
 * answered PROG_UNAVAIL / PROG_MISMATCH / RPC_MISMATCH as oncrpc4j's own filter would), replies
 * complete the caller's pending request. Shared by the AF_LOCAL and netlink transports and by
 * the emulated kernel's client side.
 */
public final class RpcPrograms {
    private static final Logger LOG = LoggerFactory.getLogger("rpctls.rpc");

    /** Stands in for the peer address oncrpc4j's API wants; local transports have none. */
    public static final InetSocketAddress LOCAL = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);

    private final Map<OncRpcProgram, RpcDispatchable> programs = new ConcurrentHashMap<>();

    public RpcPrograms register(int program, int version, RpcDispatchable d) {
        programs.put(new OncRpcProgram(program, version), d);
        return this;
    }

    /** Handles one complete RPC message received on {@code transport}. */
    public void handle(byte[] message, RpcTransport transport) {
        // BoundedXdr: oncrpc4j's own Xdr would allocate whatever a credential's length field asks for
        Xdr xdr = new BoundedXdr(message);
        xdr.beginDecoding();
        int xid;
        int type;
        try {
            xid = xdr.xdrDecodeInt();
            type = xdr.xdrDecodeInt();
        } catch (IOException e) {
            LOG.info("RPC message of {} bytes dropped: no header", message.length);
            return;
        }
        if (type == RpcMessageType.CALL) {
            handleCall(new RpcCall(xid, xdr, transport));
        } else if (type == RpcMessageType.REPLY) {
            handleReply(xid, xdr, transport);
        } else {
            LOG.info("RPC message xid {} dropped: type {} is neither CALL nor REPLY", Integer.toUnsignedString(xid), type);
        }
    }

    private void handleCall(RpcCall call) {
        try {
            call.accept();
        } catch (RpcMismatchReply e) {
            // oncrpc4j 3.4.2 reports the caller's version as the low end; RFC 5531 wants the range we support: 2..2
            LOG.info("RPC call xid {} rejected: RPC version mismatch", Integer.toUnsignedString(call.getXid()));
            call.reject(RpcRejectStatus.RPC_MISMATCH, new MismatchInfo(2, 2));
            return;
        } catch (RpcException e) {
            LOG.info("RPC call rejected: {}", e.getMessage());
            call.reject(e.getStatus(), e.getRpcReply());
            return;
        } catch (IOException e) {
            LOG.info("RPC call dropped: bad header: {}", e.getMessage());
            return;
        }
        RpcDispatchable d = programs.get(new OncRpcProgram(call.getProgram(), call.getProgramVersion()));
        if (d == null) {
            int low = Integer.MAX_VALUE;
            int high = Integer.MIN_VALUE;
            for (OncRpcProgram p : programs.keySet()) {
                if (p.getNumber() == call.getProgram()) {
                    low = Math.min(low, p.getVersion());
                    high = Math.max(high, p.getVersion());
                }
            }
            if (low <= high) {
                LOG.info("RPC call for program {} version {}: version mismatch ({}..{})",
                        Integer.toHexString(call.getProgram()), call.getProgramVersion(), low, high);
                call.failProgramMismatch(low, high);
            } else {
                LOG.info("RPC call for unknown program {}", Integer.toHexString(call.getProgram()));
                call.failProgramUnavailable();
            }
            return;
        }
        try {
            d.dispatchOncRpcCall(call);
        } catch (RpcException e) {
            call.reject(e.getStatus(), e.getRpcReply());
        } catch (IOException e) {
            LOG.info("RPC call xid {} proc {}: garbage arguments: {}", Integer.toUnsignedString(call.getXid()), call.getProcedure(), e.getMessage());
            call.failRpcGarbage();
        } catch (RuntimeException e) {
            LOG.error("RPC call xid {} proc {} failed", Integer.toUnsignedString(call.getXid()), call.getProcedure(), e);
            call.failRpcSystem();
        }
    }

    private static void handleReply(int xid, Xdr xdr, RpcTransport transport) {
        var callback = transport.getReplyQueue().get(xid);
        if (callback == null) {
            LOG.debug("RPC reply xid {} matches no pending call", Integer.toUnsignedString(xid));
            return;
        }
        try {
            RpcReply reply = new RpcReply(xid, xdr, transport);
            if (!reply.isAccepted()) callback.failed(new OncRpcRejectedException(reply.getRejectStatus()), transport);
            else if (reply.getAcceptStatus() != RpcAccepsStatus.SUCCESS) callback.failed(new OncRpcAcceptedException(reply.getAcceptStatus()), transport);
            else callback.completed(reply, transport);
        } catch (OncRpcException e) {
            callback.failed(e, transport);
        } catch (IOException e) {
            callback.failed(e, transport);
        }
    }

    /** The bytes of an encoded Xdr, ready to frame. */
    public static ByteBuffer bytes(Xdr xdr) {
        return xdr.asBuffer().toByteBuffer();
    }
}
