package org.rpctls.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class SockAddrTest {
    @Test
    void roundTripsV4AndV6() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            for (String ip : new String[] {"127.0.0.1", "10.1.2.3", "::1", "fe80::1"}) {
                var a = new InetSocketAddress(InetAddress.getByName(ip), 2049);
                var seg = SockAddr.encode(arena, a);
                assertEquals(a, SockAddr.decode(seg), ip);
            }
        }
    }

    @Test
    void portIsBigEndian() {
        try (Arena arena = Arena.ofConfined()) {
            var seg = SockAddr.encode(arena, new InetSocketAddress("127.0.0.1", 0x0801));
            assertEquals(0x08, seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 2));
            assertEquals(0x01, seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 3));
        }
    }
}
