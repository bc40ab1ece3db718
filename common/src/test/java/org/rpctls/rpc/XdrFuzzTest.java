package org.rpctls.rpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
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
        // nothing lost: the value re-encodes to bytes that decode to the same value (records with arrays define equals)
        assertEquals(value, decode(encode(value), decoder), "value changed across encode/decode");
    }

    /**
     * RFC 5531 record marking as the version-1 daemon reads it (RecordMarking.read, 64 KiB limit
     * as LocalUpcallTransport uses), with the stream delivered in reads of fuzzer-chosen sizes.
     * Contract: each call returns a whole record, null at a clean end, or throws BadRecordException
     * / EOFException; every record equals what an independent reading of the same bytes gives.
     *
     * <p>Input: byte 0 = read size (1..256, 0 means "as much as asked"), then the stream.
     */
    @FuzzTest(maxDuration = "30s")
    void recordMarking(byte[] input) throws IOException {
        if (input.length == 0) return;
        int chunk = Byte.toUnsignedInt(input[0]);
        byte[] stream = Arrays.copyOfRange(input, 1, input.length);
        int maxRecord = 64 * 1024;
        List<byte[]> expected = new ArrayList<>();
        String expectedEnd = referenceRecords(stream, maxRecord, expected);
        var ch = new ChunkedChannel(stream, chunk);
        for (int i = 0; ; i++) {
            byte[] r;
            try {
                r = RecordMarking.read(ch, maxRecord);
            } catch (RecordMarking.BadRecordException e) {
                assertEquals("bad", expectedEnd, "BadRecordException where the reference reader says " + expectedEnd + ": " + e.getMessage());
                assertEquals(expected.size(), i, "records before the bad one");
                return;
            } catch (EOFException e) {
                assertEquals("eof", expectedEnd, "EOFException where the reference reader says " + expectedEnd);
                assertEquals(expected.size(), i, "records before the cut");
                return;
            }
            if (r == null) {
                assertEquals("end", expectedEnd, "clean end where the reference reader says " + expectedEnd);
                assertEquals(expected.size(), i, "records before the end");
                return;
            }
            assertTrue(i < expected.size(), "more records than the reference reader finds");
            assertArrayEquals(expected.get(i), r, "record " + i);
        }
    }

    /** An independent reading of a record-marked stream: fills {@code out}, returns "end", "eof" or "bad". */
    static String referenceRecords(byte[] s, int maxRecord, List<byte[]> out) {
        int p = 0;
        while (true) {
            if (p == s.length) return "end";
            java.io.ByteArrayOutputStream record = new java.io.ByteArrayOutputStream();
            int fragments = 0;
            while (true) {
                if (s.length - p < 4) return "eof";
                long h = ByteBuffer.wrap(s, p, 4).getInt() & 0xffffffffL;
                p += 4;
                long len = h & 0x7fffffffL;
                if (record.size() + len > maxRecord) return "bad";
                if (++fragments > 1024) return "bad";
                if (s.length - p < len) return "eof";
                record.write(s, p, (int) len);
                p += (int) len;
                if ((h & 0x80000000L) != 0) break;
            }
            out.add(record.toByteArray());
        }
    }

    /** A channel over a byte array that hands out at most {@code chunk} bytes per read (0: no limit). */
    static final class ChunkedChannel implements java.nio.channels.ReadableByteChannel {
        private final ByteBuffer data;
        private final int chunk;

        ChunkedChannel(byte[] bytes, int chunk) {
            this.data = ByteBuffer.wrap(bytes);
            this.chunk = chunk;
        }

        @Override
        public int read(ByteBuffer dst) {
            if (!data.hasRemaining()) return -1;
            int n = Math.min(dst.remaining(), data.remaining());
            if (chunk > 0) n = Math.min(n, chunk);
            dst.put(data.slice(data.position(), n));
            data.position(data.position() + n);
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {}
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
