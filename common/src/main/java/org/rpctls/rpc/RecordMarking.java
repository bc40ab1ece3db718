package org.rpctls.rpc;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/** RFC 5531 §11 record marking: 4-byte headers (last-fragment bit + length) before each fragment. */
public final class RecordMarking {
    private RecordMarking() {}

    public static final int LAST_FRAGMENT = 0x80000000;
    public static final int LENGTH_MASK = 0x7fffffff;

    /** A record that breaks the framing rules (too long, empty fragment chain); the stream cannot be trusted after it. */
    public static final class BadRecordException extends IOException {
        public BadRecordException(String message) {
            super(message);
        }
    }

    /** Reads one whole record, or returns null at a clean end of stream (between records). */
    public static byte[] read(ReadableByteChannel ch, int maxRecord) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(4);
        ByteBuffer record = ByteBuffer.allocate(0);
        int fragments = 0;
        while (true) {
            header.clear();
            if (!readFully(ch, header, fragments == 0)) return null;
            header.flip();
            int h = header.getInt();
            int len = h & LENGTH_MASK;
            boolean last = (h & LAST_FRAGMENT) != 0;
            if ((long) record.position() + len > maxRecord) {
                throw new BadRecordException("record longer than " + maxRecord + " bytes (fragment of " + len + ")");
            }
            if (++fragments > 1024) throw new BadRecordException("more than 1024 fragments in one record");
            ByteBuffer grown = ByteBuffer.allocate(record.position() + len);
            record.flip();
            grown.put(record);
            ByteBuffer frag = grown.slice(grown.position(), len);
            if (!readFully(ch, frag, false)) throw new EOFException("connection closed inside a record");
            grown.position(grown.position() + len);
            record = grown;
            if (last) {
                byte[] out = new byte[record.position()];
                record.flip().get(out);
                return out;
            }
        }
    }

    /** Fills {@code b}; false if the stream ended before the first byte and {@code eofOk}. */
    private static boolean readFully(ReadableByteChannel ch, ByteBuffer b, boolean eofOk) throws IOException {
        boolean first = true;
        while (b.hasRemaining()) {
            int n = ch.read(b);
            if (n < 0) {
                if (first && eofOk) return false;
                throw new EOFException("connection closed inside a record");
            }
            if (n > 0) first = false;
        }
        return true;
    }

    /** Writes {@code body} as one single-fragment record. */
    public static void write(WritableByteChannel ch, ByteBuffer body) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(4).putInt(body.remaining() | LAST_FRAGMENT).flip();
        while (header.hasRemaining()) ch.write(header);
        while (body.hasRemaining()) ch.write(body);
    }
}
