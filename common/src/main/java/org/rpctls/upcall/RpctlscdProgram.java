package org.rpctls.upcall;

import java.io.IOException;
import org.dcache.oncrpc4j.rpc.RpcCall;
import org.dcache.oncrpc4j.rpc.RpcDispatchable;
import org.dcache.oncrpc4j.xdr.XdrVoid;
import org.rpctls.rpc.Rpctls;
import org.rpctls.rpc.RpctlscdV1;
import org.rpctls.rpc.RpctlscdV2;
import org.rpctls.rpc.XdrReader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The RPCTLSCD program (rpc.tlsclntd) in both generations: decodes each call, runs it on its
 * own virtual thread (a HANDLERECORD or DISCONNECT never waits behind a handshake), replies.
 */
public final class RpctlscdProgram implements RpcDispatchable {
    private static final Logger LOG = LoggerFactory.getLogger("rpctls");
    private final UpcallHandler handler;
    private final int version;

    public RpctlscdProgram(UpcallHandler handler, int version) {
        this.handler = handler;
        this.version = version;
    }

    @Override
    public void dispatchOncRpcCall(RpcCall call) throws IOException {
        boolean v1 = version == Rpctls.VERSION_1;
        switch (call.getProcedure()) {
            case Rpctls.NULLPROC -> {
                call.retrieveCall(XdrVoid.XDR_VOID);
                if (handler.config().verbose()) LOG.info("rpctlscd_null: done");
                call.reply(XdrVoid.XDR_VOID);
            }
            case Rpctls.CONNECT -> {
                long cookie;
                byte[] certname;
                if (v1) {
                    var a = new XdrReader<>(RpctlscdV1.ConnectArg::decode);
                    call.retrieveCall(a);
                    cookie = 0;
                    certname = a.value().certname();
                } else {
                    var a = new XdrReader<>(RpctlscdV2.ConnectArg::decode);
                    call.retrieveCall(a);
                    cookie = a.value().socookie();
                    certname = a.value().certname();
                }
                Async.run(call, () -> {
                    var r = handler.clientConnect(cookie, certname, v1);
                    // Closed before the reply, or the reply's send failed (EPIPE: the kernel closed its end): the
                    // kernel's call has failed and it will never learn this session. (Not "closed after the reply":
                    // the kernel may close after it got the reply; FaultTest found that false positive.)
                    boolean deliverable = call.getTransport().isOpen();
                    if (v1) {
                        var k = r.key() instanceof SessionKey.Triple t ? t : new SessionKey.Triple(0, 0, 0);
                        call.reply(new RpctlscdV1.ConnectRes(r.reterr(), k.sec(), k.usec(), k.refno()));
                    } else {
                        call.reply(new RpctlscdV2.ConnectRes(r.reterr()));
                    }
                    if (r.key() != null && (!deliverable || org.rpctls.rpc.LocalRpcTransport.lastSendFailed())) handler.replyLost(r.key());
                });
            }
            case Rpctls.HANDLERECORD -> {
                SessionKey key;
                if (v1) {
                    var a = new XdrReader<>(RpctlscdV1.HandlerecordArg::decode);
                    call.retrieveCall(a);
                    key = new SessionKey.Triple(a.value().sec(), a.value().usec(), a.value().ssl());
                } else {
                    var a = new XdrReader<>(RpctlscdV2.HandlerecordArg::decode);
                    call.retrieveCall(a);
                    key = new SessionKey.Cookie(a.value().socookie());
                }
                java.util.function.IntConsumer reply = reterr ->
                        call.reply(v1 ? new RpctlscdV1.HandlerecordRes(reterr) : new RpctlscdV2.HandlerecordRes(reterr));
                Async.runNowOrAsync(call, () -> handler.handleRecordNow(key), reply, () -> reply.accept(handler.handleRecord(key)));
            }
            case Rpctls.DISCONNECT -> {
                SessionKey key;
                if (v1) {
                    var a = new XdrReader<>(RpctlscdV1.DisconnectArg::decode);
                    call.retrieveCall(a);
                    key = new SessionKey.Triple(a.value().sec(), a.value().usec(), a.value().ssl());
                } else {
                    var a = new XdrReader<>(RpctlscdV2.DisconnectArg::decode);
                    call.retrieveCall(a);
                    key = new SessionKey.Cookie(a.value().socookie());
                }
                Async.run(call, () -> {
                    int reterr = handler.disconnect(key);
                    call.reply(v1 ? new RpctlscdV1.DisconnectRes(reterr) : new RpctlscdV2.DisconnectRes(reterr));
                });
            }
            default -> {
                LOG.info("rpctlscd: procedure {} unavailable", call.getProcedure());
                call.failProcedureUnavailable();
            }
        }
    }
}
