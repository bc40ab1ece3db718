package org.rpctls.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.rpctls.ffi.LibC;

/**
 * Descriptor passing: a sender that attaches more descriptors than expected cannot leak them into
 * us. Linux merges several SCM_RIGHTS messages of one sendmsg into a single one on receipt, so on
 * Linux this checks the extra-descriptor path; FreeBSD delivers them separately, which is why
 * receiveWithFd walks every control message.
 */
class UnixSocketsTest {
    static int openFds() {
        return new File("/proc/self/fd").list().length;
    }

    /** Sends one byte with two SCM_RIGHTS control messages of two descriptors each (glibc/amd64 layout). */
    static void sendTwoRightsMessages(int sock, int[] fds) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(1);
            data.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) 7);
            MemorySegment iov = arena.allocate(16, 8);
            iov.set(ADDRESS, 0, data);
            iov.set(JAVA_LONG, 8, 1);
            MemorySegment control = arena.allocate(48, 8); // 2 x CMSG_SPACE(8) = 2 x 24
            for (int m = 0; m < 2; m++) {
                long at = 24L * m;
                control.set(JAVA_LONG, at, 24); // cmsg_len = CMSG_LEN(8)
                control.set(JAVA_INT, at + 8, LibC.SOL_SOCKET);
                control.set(JAVA_INT, at + 12, LibC.SCM_RIGHTS);
                control.set(JAVA_INT, at + 16, fds[2 * m]);
                control.set(JAVA_INT, at + 20, fds[2 * m + 1]);
            }
            MemorySegment msg = arena.allocate(56, 8); // struct msghdr
            msg.set(ADDRESS, 16, iov);
            msg.set(JAVA_LONG, 24, 1);
            msg.set(ADDRESS, 32, control);
            msg.set(JAVA_LONG, 40, 48);
            if (LibC.sendmsg(sock, msg, 0) != 1) throw new AssertionError("sendmsg failed, errno " + LibC.errno());
        }
    }

    @Test
    void extraDescriptorsInEveryControlMessageAreClosed() throws Exception {
        if (LibC.FREEBSD) {
            System.out.println("SKIP: UnixSocketsTest builds the control buffer in glibc's layout; not run on FreeBSD");
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pair = arena.allocate(JAVA_INT, 2);
            assertEquals(0, LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM, 0, pair));
            int a = pair.getAtIndex(JAVA_INT, 0), b = pair.getAtIndex(JAVA_INT, 1);
            MemorySegment pipe = arena.allocate(JAVA_INT, 2);
            assertEquals(0, LibC.pipe(pipe));
            int r = pipe.getAtIndex(JAVA_INT, 0), w = pipe.getAtIndex(JAVA_INT, 1);
            int before = openFds();
            sendTwoRightsMessages(a, new int[] {r, w, r, w});
            var got = UnixSockets.receiveWithFd(b, 16);
            assertArrayEquals(new byte[] {7}, got.data());
            assertTrue(got.fd() >= 0, "the first descriptor is handed over");
            assertEquals(before + 1, openFds(), "four descriptors arrived, three must have been closed");
            LibC.close(got.fd());
            for (int fd : new int[] {a, b, r, w}) LibC.close(fd);
        }
    }
}
