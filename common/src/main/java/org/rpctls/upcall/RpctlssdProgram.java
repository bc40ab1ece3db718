package org.rpctls.upcall;

import java.io.IOException;
import org.dcache.oncrpc4j.rpc.RpcCall;
import org.dcache.oncrpc4j.rpc.RpcDispatchable;
import org.dcache.oncrpc4j.xdr.XdrVoid;
import org.rpctls.rpc.Rpctls;
import org.rpctls.rpc.RpctlssdV1;
import org.rpctls.rpc.RpctlssdV2;
import org.rpctls.rpc.XdrReader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The RPCTLSSD program (rpc.tlsservd) in both generations. A server handshake that fails after
 * the daemon took the socket is answered at once with flags = HANDSHFAIL (the value the
 * kernel already holds, so its accounting does not change) instead of FreeBSD's silence and
 * the kernel's 15 s wait; when the socket could not even be claimed, no reply is sent, as in
 * FreeBSD, because then the kernel still owns and must clean up the socket (see the man page).
 */
public final class RpctlssdProgram implements RpcDispatchable {
    private static final Logger LOG = LoggerFactory.getLogger("rpctls");
    private final UpcallHandler handler;
    private final int version;

    public RpctlssdProgram(UpcallHandler handler, int version) {
        this.handler = handler;
        this.version = version;
    }

    @Override
    public void dispatchOncRpcCall(RpcCall call) throws IOException {
        boolean v1 = version == Rpctls.VERSION_1;
        switch (call.getProcedure()) {
            case Rpctls.NULLPROC -> {
                call.retrieveCall(XdrVoid.XDR_VOID);
                if (handler.config().verbose()) LOG.info("rpctlssd_null_svc: done");
                call.reply(XdrVoid.XDR_VOID);
            }
            case Rpctls.CONNECT -> {
                long cookie;
                if (v1) {
                    call.retrieveCall(XdrVoid.XDR_VOID); // v1 CONNECT has no argument
                    cookie = 0;
                } else {
                    var a = new XdrReader<>(RpctlssdV2.ConnectArg::decode);
                    call.retrieveCall(a);
                    cookie = a.value().socookie();
                }
                Async.run(call, () -> {
                    var r = handler.serverConnect(cookie, v1);
                    if (r.status() == UpcallHandler.ServerStatus.NO_SOCKET) return; // no reply: see the class comment
                    // Closed before the reply, or the reply's send failed (EPIPE: the kernel closed its end): the
                    // kernel's call has failed and it will never learn this session. (Not "closed after the reply":
                    // the kernel may close after it got the reply; FaultTest found that false positive.)
                    boolean deliverable = call.getTransport().isOpen();
                    if (v1) {
                        var k = r.key() instanceof SessionKey.Triple t ? t : new SessionKey.Triple(0, 0, 0);
                        call.reply(new RpctlssdV1.ConnectRes(r.flags(), k.sec(), k.usec(), k.refno(), r.uid(), r.gids()));
                    } else {
                        call.reply(new RpctlssdV2.ConnectRes(r.flags(), r.uid(), r.gids()));
                    }
                    if (r.key() != null && (!deliverable || org.rpctls.rpc.LocalRpcTransport.lastSendFailed())) handler.replyLost(r.key());
                });
            }
            case Rpctls.HANDLERECORD -> {
                SessionKey key;
                if (v1) {
                    var a = new XdrReader<>(RpctlssdV1.HandlerecordArg::decode);
                    call.retrieveCall(a);
                    key = new SessionKey.Triple(a.value().sec(), a.value().usec(), a.value().ssl());
                } else {
                    var a = new XdrReader<>(RpctlssdV2.HandlerecordArg::decode);
                    call.retrieveCall(a);
                    key = new SessionKey.Cookie(a.value().socookie());
                }
                java.util.function.IntConsumer reply = reterr ->
                        call.reply(v1 ? new RpctlssdV1.HandlerecordRes(reterr) : new RpctlssdV2.HandlerecordRes(reterr));
                Async.runNowOrAsync(call, () -> handler.handleRecordNow(key), reply, () -> reply.accept(handler.handleRecord(key)));
            }
            case Rpctls.DISCONNECT -> {
                SessionKey key;
                if (v1) {
                    var a = new XdrReader<>(RpctlssdV1.DisconnectArg::decode);
                    call.retrieveCall(a);
                    key = new SessionKey.Triple(a.value().sec(), a.value().usec(), a.value().ssl());
                } else {
                    var a = new XdrReader<>(RpctlssdV2.DisconnectArg::decode);
                    call.retrieveCall(a);
                    key = new SessionKey.Cookie(a.value().socookie());
                }
                Async.run(call, () -> {
                    int reterr = handler.disconnect(key);
                    call.reply(v1 ? new RpctlssdV1.DisconnectRes(reterr) : new RpctlssdV2.DisconnectRes(reterr));
                });
            }
            default -> {
                LOG.info("rpctlssd: procedure {} unavailable", call.getProcedure());
                call.failProcedureUnavailable();
            }
        }
    }
}
