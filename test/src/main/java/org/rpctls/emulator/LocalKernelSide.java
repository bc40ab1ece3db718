package org.rpctls.emulator;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.dcache.oncrpc4j.rpc.ReplyQueue;
import org.dcache.oncrpc4j.xdr.XdrAble;
import org.rpctls.rpc.RecordMarking;
import org.rpctls.rpc.RpcPrograms;
import org.rpctls.rpc.StreamRpcTransport;
import org.rpctls.rpc.XdrReader;

/**
 * Version 1 (FreeBSD 13/14): the kernel's clnt_reconnect client on the daemon's AF_LOCAL socket.
 * CONNECT upcalls are serialised by the caller, as the kernel's busy flag serialises them.
 */
final class LocalKernelSide implements KernelSide {
    private final Path socket;
    private final int prog;
    private final long timeoutMillis;
    private StreamRpcTransport transport;

    LocalKernelSide(Path socket, int prog, long timeoutMillis) {
        this.socket = socket;
        this.prog = prog;
        this.timeoutMillis = timeoutMillis;
    }

    /** The kernel's clnt_reconnect: (re)connects when the previous connection is gone. */
    private synchronized StreamRpcTransport connection() throws IOException {
        if (transport != null && transport.isOpen()) return transport;
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
        // A reply queue per connection: when an old connection ends, its reader fails the calls
        // pending in its queue (handleDisconnect); with one shared queue that also failed calls
        // already made on the new connection (found by FaultTest's channel drops).
        var t = new StreamRpcTransport(ch, new ReplyQueue());
        RpcPrograms replies = new RpcPrograms();
        Thread.ofVirtual().name("emulator v1 replies").start(() -> {
            t.serve(replies, 1 << 20);
            try {
                ch.close();
            } catch (IOException ignored) {
                // gone
            }
        });
        transport = t;
        return t;
    }

    @Override
    public <T> T call(int proc, XdrAble args, XdrReader.Decoder<T> result) throws IOException, TimeoutException, InterruptedException {
        // clnt_reconnect multiplexes calls by xid; only CONNECT is serialised (EmulatedKernel)
        return Calls.call(connection(), prog, org.rpctls.rpc.Rpctls.VERSION_1, proc, args, result, timeoutMillis);
    }

    @Override
    public byte[] raw(byte[] message, long waitMillis) throws IOException, InterruptedException {
        // A connection of its own, so the raw answer is not consumed by the reply reader.
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ByteBuffer b = ByteBuffer.wrap(message);
            while (b.hasRemaining()) ch.write(b);
            var answer = new CompletableFuture<byte[]>();
            Thread.ofVirtual().start(() -> {
                try {
                    answer.complete(RecordMarking.read(ch, 1 << 20));
                } catch (IOException e) {
                    answer.complete(null);
                }
            });
            try {
                return answer.get(waitMillis, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                return null;
            } catch (ExecutionException e) {
                return null;
            }
        }
    }

    /** Fault injection: closes the current connection, if any; true if one was open. */
    synchronized boolean drop() {
        if (transport == null || !transport.isOpen()) return false;
        try {
            transport.channel().close();
        } catch (IOException ignored) {
            // closing
        }
        transport = null;
        return true;
    }

    @Override
    public void close() {
        if (transport != null) {
            try {
                transport.channel().close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }
}
