package org.rpctls.netlink;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Closing a netlink socket while a reader waits in recv(2): Linux netlink ignores shutdown(2), so
 * before the receive tick the reader stayed blocked for good (this test then hung in get()).
 */
class PacketSocketCloseTest {
    @Test
    void closeEndsAReaderBlockedOnARealNetlinkSocket() throws Exception {
        RawNetlinkSocket socket = RawNetlinkSocket.open();
        var read = new CompletableFuture<byte[]>();
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            try {
                read.complete(socket.receive());
            } catch (Throwable t) {
                read.completeExceptionally(t);
            }
        });
        Thread.sleep(200); // let it block in recv: nothing is ever sent to this socket
        assertTrue(reader.isAlive(), "the reader should be waiting for a packet");
        socket.close();
        assertNull(read.get(20, TimeUnit.SECONDS), "a closed socket reads as end of stream");
    }
}
