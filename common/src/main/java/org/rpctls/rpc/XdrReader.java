package org.rpctls.rpc;

import java.io.IOException;
import org.dcache.oncrpc4j.rpc.OncRpcException;
import org.dcache.oncrpc4j.xdr.XdrAble;
import org.dcache.oncrpc4j.xdr.XdrDecodingStream;
import org.dcache.oncrpc4j.xdr.XdrEncodingStream;

/** Adapts a record's static decode() to oncrpc4j's fill-in-place XdrAble (RpcCall.retrieveCall, RpcReply.getReplyResult). */
public final class XdrReader<T> implements XdrAble {
    /** A record decoder. */
    @FunctionalInterface
    public interface Decoder<T> {
        T decode(XdrDecodingStream xdr) throws IOException;
    }

    private final Decoder<T> decoder;
    private T value;

    public XdrReader(Decoder<T> decoder) {
        this.decoder = decoder;
    }

    public T value() {
        return value;
    }

    @Override
    public void xdrDecode(XdrDecodingStream xdr) throws IOException {
        value = decoder.decode(xdr);
    }

    @Override
    public void xdrEncode(XdrEncodingStream xdr) {
        throw new IllegalStateException("XdrReader only decodes");
    }
}
