package org.rpctls.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.rpctls.sys.SocketFd;
import org.rpctls.sys.Sockets;

/** The peer named in the agent's log lines, also when the peer reset the connection before the daemon looked (seen in the lab). */
class PeerTextTest {
    static HandshakeFamily.AcceptParams params(String peername) {
        return new HandshakeFamily.AcceptParams(9, HandshakeFamily.MSG_TYPE_CLIENTHELLO, HandshakeFamily.AUTH_X509, peername, 0, List.of(), 0, 0, 0);
    }

    @Test
    void connectedPeerIsItsAddress() throws Exception {
        try (SocketFd listener = Sockets.listenTcp(new InetSocketAddress("127.0.0.1", 0), 1);
             Socket client = new Socket()) {
            client.connect(Sockets.localAddress(listener.fd()));
            try (SocketFd accepted = Sockets.accept(listener, Duration.ofSeconds(5))) {
                assertEquals("127.0.0.1:" + client.getLocalPort(), LinuxHandshakeAgent.peerText(accepted, params(null)));
            }
        }
    }

    @Test
    void resetPeerIsNamedWithTheReason() throws Exception {
        try (SocketFd listener = Sockets.listenTcp(new InetSocketAddress("127.0.0.1", 0), 1)) {
            Socket client = new Socket();
            client.connect(Sockets.localAddress(listener.fd()));
            try (SocketFd accepted = Sockets.accept(listener, Duration.ofSeconds(5))) {
                client.setSoLinger(true, 0);
                client.close(); // RST: the accepted socket loses its peer address
                String text = "";
                for (int i = 0; i < 100 && !text.contains("gone"); i++) {
                    text = LinuxHandshakeAgent.peerText(accepted, params("nfs.example.org"));
                    if (!text.contains("gone")) Thread.sleep(20);
                }
                assertEquals("nfs.example.org (peer address gone: connection already reset or closed)", text);
                assertTrue(LinuxHandshakeAgent.peerText(accepted, params(null)).startsWith("(peer address gone: "));
            }
        }
    }
}
