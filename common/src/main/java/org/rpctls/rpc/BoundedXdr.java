package org.rpctls.rpc;

import java.nio.ByteBuffer;
import org.dcache.oncrpc4j.xdr.BadXdrOncRpcException;
import org.dcache.oncrpc4j.xdr.Xdr;

/**
 * An Xdr for decoding received messages whose variable-length items cannot claim more elements
 * than there are bytes left. oncrpc4j 3.4.2's Xdr allocates the array a length field asks for
 * before it checks the buffer holds it: a call header whose credential (AUTH_UNIX gids, machine
 * name) or verifier says 0x7fffffff made the daemon allocate up to 8 GiB and die of
 * OutOfMemoryError in its upcall read loop (found by fuzzing, UpcallFuzzTest). Here such a
 * length is a BadXdrOncRpcException (an IOException) like any other short message.
 */
public final class BoundedXdr extends Xdr {
    public BoundedXdr(byte[] message) {
        super(message);
    }

    /** Refuses a count of {@code count} items of at least {@code minBytes} bytes each that cannot fit in what is left. */
    private void check(int count, int minBytes) throws BadXdrOncRpcException {
        if (count < 0 || (long) count * minBytes > _buffer.remaining()) throw tooShort();
    }

    /** The count of the next counted item (not consumed), checked against the bytes after it. */
    private void checkCounted(int minBytes) throws BadXdrOncRpcException {
        if (_buffer.remaining() < 4) return; // super's decode reports the short buffer
        int count = _buffer.getInt(_buffer.position());
        if (count < 0 || (long) count * minBytes > _buffer.remaining() - 4L) throw tooShort();
    }

    /**
     * oncrpc4j's "xdr stream too short". BadXdrOncRpcException has no public constructor, so
     * Xdr's own length check makes it: an opaque far longer than any message, into no array.
     */
    private BadXdrOncRpcException tooShort() {
        try {
            super.xdrDecodeOpaque(new byte[0], 0, 0x7ffffff0);
        } catch (BadXdrOncRpcException e) {
            return e;
        }
        throw new IllegalStateException("a 2 GiB opaque fit in a received message");
    }

    @Override
    public int[] xdrDecodeIntVector() throws BadXdrOncRpcException {
        checkCounted(4);
        return super.xdrDecodeIntVector();
    }

    @Override
    public int[] xdrDecodeIntFixedVector(int length) throws BadXdrOncRpcException {
        check(length, 4);
        return super.xdrDecodeIntFixedVector(length);
    }

    @Override
    public long[] xdrDecodeLongVector() throws BadXdrOncRpcException {
        checkCounted(8);
        return super.xdrDecodeLongVector();
    }

    @Override
    public long[] xdrDecodeLongFixedVector(int length) throws BadXdrOncRpcException {
        check(length, 8);
        return super.xdrDecodeLongFixedVector(length);
    }

    @Override
    public double[] xdrDecodeDoubleVector() throws BadXdrOncRpcException {
        checkCounted(8);
        return super.xdrDecodeDoubleVector();
    }

    @Override
    public double[] xdrDecodeDoubleFixedVector(int length) throws BadXdrOncRpcException {
        check(length, 8);
        return super.xdrDecodeDoubleFixedVector(length);
    }

    @Override
    public float[] xdrDecodeFloatVector() throws BadXdrOncRpcException {
        checkCounted(4);
        return super.xdrDecodeFloatVector();
    }

    @Override
    public float[] xdrDecodeFloatFixedVector(int length) throws BadXdrOncRpcException {
        check(length, 4);
        return super.xdrDecodeFloatFixedVector(length);
    }

    @Override
    public short[] xdrDecodeShortVector() throws BadXdrOncRpcException {
        checkCounted(1);
        return super.xdrDecodeShortVector();
    }

    @Override
    public short[] xdrDecodeShortFixedVector(int length) throws BadXdrOncRpcException {
        check(length, 1);
        return super.xdrDecodeShortFixedVector(length);
    }

    @Override
    public byte[] xdrDecodeByteVector() throws BadXdrOncRpcException {
        checkCounted(1);
        return super.xdrDecodeByteVector();
    }

    @Override
    public byte[] xdrDecodeByteFixedVector(int length) throws BadXdrOncRpcException {
        check(length, 1);
        return super.xdrDecodeByteFixedVector(length);
    }

    @Override
    public byte[] xdrDecodeOpaque(int length) throws BadXdrOncRpcException {
        check(length, 1);
        return super.xdrDecodeOpaque(length);
    }

    @Override
    public byte[] xdrDecodeDynamicOpaque() throws BadXdrOncRpcException {
        checkCounted(1);
        return super.xdrDecodeDynamicOpaque();
    }

    @Override
    public String xdrDecodeString() throws BadXdrOncRpcException {
        checkCounted(1);
        return super.xdrDecodeString();
    }

    @Override
    public ByteBuffer xdrDecodeByteBuffer() throws BadXdrOncRpcException {
        checkCounted(1);
        return super.xdrDecodeByteBuffer();
    }
}
