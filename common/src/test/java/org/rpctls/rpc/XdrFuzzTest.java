package org.rpctls.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.dcache.oncrpc4j.rpc.OncRpcException;
import org.dcache.oncrpc4j.xdr.Xdr;

/**
 * Every XDR struct decoder of both upcall generations, fed arbitrary bytes. Contract: a decoder
 * returns a value or throws an IOException (oncrpc4j's BadXdrOncRpcException for a short buffer,
 * {@link XdrArrays.MalformedXdrException} for a length beyond the protocol's limits); any other
 * exception is a bug. A value that decodes re-encodes to bytes that decode to the same value
 * (nothing is lost on the way through).
 *
 * <p>The first input byte selects the decoder; the rest is the XDR body.
 */
class XdrFuzzTest {
    /** The decoders the daemons run on kernel calls and on replies (the emulated kernel decodes the replies). */
    static final List<XdrReader.Decoder<? extends XdrRecord>> DECODERS = List.of(
            RpctlscdV1.ConnectArg::decode, RpctlscdV1.ConnectRes::decode, RpctlscdV1.HandlerecordArg::decode,
            RpctlscdV1.HandlerecordRes::decode, RpctlscdV1.DisconnectArg::decode, RpctlscdV1.DisconnectRes::decode,
            RpctlscdV2.ConnectArg::decode, RpctlscdV2.ConnectRes::decode, RpctlscdV2.HandlerecordArg::decode,
            RpctlscdV2.HandlerecordRes::decode, RpctlscdV2.DisconnectArg::decode, RpctlscdV2.DisconnectRes::decode,
            RpctlssdV1.ConnectRes::decode, RpctlssdV1.HandlerecordArg::decode,
            RpctlssdV1.HandlerecordRes::decode, RpctlssdV1.DisconnectArg::decode, RpctlssdV1.DisconnectRes::decode,
            RpctlssdV2.ConnectArg::decode, RpctlssdV2.ConnectRes::decode, RpctlssdV2.HandlerecordArg::decode,
            RpctlssdV2.HandlerecordRes::decode, RpctlssdV2.DisconnectArg::decode, RpctlssdV2.DisconnectRes::decode);

    @FuzzTest(maxDuration = "30s")
    void structDecoders(byte[] input) throws IOException {
        if (input.length == 0) return;
        var decoder = DECODERS.get(Byte.toUnsignedInt(input[0]) % DECODERS.size());
        byte[] body = Arrays.copyOfRange(input, 1, input.length);
        XdrRecord value;
        try {
            value = decode(body, decoder);
        } catch (IOException expected) { // OncRpcException and MalformedXdrException are IOExceptions
            return;
        }
        byte[] again = encode(value);
        assertEquals(value.toString().length() >= 0 ? decode(again, decoder) : null, decode(again, decoder));
        assertSameValue(value, decode(again, decoder));
    }

    static void assertSameValue(XdrRecord a, XdrRecord b) {
        // the records with arrays override equals; the others are plain records
        assertEquals(a, b, "value changed across encode/decode");
    }

    static <T> T decode(byte[] bytes, XdrReader.Decoder<T> d) throws IOException {
        Xdr x = new Xdr(bytes);
        x.beginDecoding();
        return d.decode(x);
    }

    static byte[] encode(XdrRecord r) throws OncRpcException, IOException {
        Xdr x = new Xdr(256);
        x.beginEncoding();
        r.xdrEncode(x);
        x.endEncoding();
        ByteBuffer b = RpcPrograms.bytes(x);
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}
