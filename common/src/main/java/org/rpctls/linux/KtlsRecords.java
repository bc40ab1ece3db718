package org.rpctls.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.rpctls.ffi.LibC;

/**
 * Reads one record from a socket whose TLS receive side is in the Linux kernel: recvmsg with
 * the TLS_GET_RECORD_TYPE control message (Documentation/networking/tls.rst). Used by
 * HANDLERECORD where we installed kTLS receive ourselves and OpenSSL cannot read.
 */
public final class KtlsRecords {
    private KtlsRecords() {}

    public static final int TLS_GET_RECORD_TYPE = 2;
    public static final int CHANGE_CIPHER_SPEC = 20;
    public static final int ALERT = 21;
    public static final int HANDSHAKE = 22;
    public static final int APPLICATION_DATA = 23;

    /** One record: its type and plaintext; type -1 when nothing could be read (errno in {@code error}). */
    public record Record(int type, byte[] data, String error) {
        public boolean isCloseNotify() {
            return type == ALERT && data.length >= 2 && data[1] == 0;
        }

        public boolean isFatalAlert() {
            return type == ALERT && data.length >= 1 && data[0] == 2;
        }
    }

    /**
     * Reads the record at the head of the receive queue without blocking. Application data is
     * only peeked (left for the kernel's consumer); any other record is consumed.
     */
    public static Record read(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            Record peeked = recv(arena, fd, LibC.MSG_PEEK | LibC.MSG_DONTWAIT, 1);
            if (peeked.type() < 0 || peeked.type() == APPLICATION_DATA) return peeked;
            return recv(arena, fd, LibC.MSG_DONTWAIT, 16384 + 256);
        }
    }

    private static Record recv(Arena arena, int fd, int flags, int size) {
        MemorySegment buf = arena.allocate(size);
        MemorySegment iov = arena.allocate(16, 8);
        iov.set(ADDRESS, 0, buf);
        iov.set(JAVA_LONG, 8, size);
        MemorySegment cmsg = arena.allocate(64, 8);
        MemorySegment msg = arena.allocate(56, 8); // struct msghdr (glibc, LP64)
        msg.set(ADDRESS, 16, iov);
        msg.set(JAVA_LONG, 24, 1);
        msg.set(ADDRESS, 32, cmsg);
        msg.set(JAVA_LONG, 40, cmsg.byteSize());
        long n = LibC.recvmsg(fd, msg, flags);
        if (n < 0) return new Record(-1, new byte[0], LibC.strerror(LibC.errno()));
        if (n == 0 && (flags & LibC.MSG_PEEK) != 0 && msg.get(JAVA_LONG, 40) == 0) return new Record(-1, new byte[0], "end of stream");
        int type = APPLICATION_DATA;
        // struct cmsghdr (glibc): cmsg_len (size_t) at 0, level at 8, type at 12, data at 16
        if (msg.get(JAVA_LONG, 40) >= 17 && cmsg.get(JAVA_INT, 8) == LibC.SOL_TLS && cmsg.get(JAVA_INT, 12) == TLS_GET_RECORD_TYPE) {
            type = Byte.toUnsignedInt(cmsg.get(JAVA_BYTE, 16));
        }
        return new Record(type, buf.asSlice(0, n).toArray(JAVA_BYTE), null);
    }
}
