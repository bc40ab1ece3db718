package org.rpctls.rpc;

import org.dcache.oncrpc4j.xdr.XdrAble;
import org.dcache.oncrpc4j.xdr.XdrDecodingStream;

/**
 * An immutable XDR type: a Java record that encodes itself (XdrAble.xdrEncode) and is decoded
 * by its static {@code decode(XdrDecodingStream)}, wrapped in {@link XdrReader} where oncrpc4j
 * wants an XdrAble to fill. Records cannot be filled in place, so xdrDecode refuses.
 */
public interface XdrRecord extends XdrAble {
    @Override
    default void xdrDecode(XdrDecodingStream xdr) {
        throw new IllegalStateException(getClass().getSimpleName() + " is immutable: decode it with its static decode()");
    }
}
