package org.rpctls.emulator;

import java.io.IOException;
import java.util.concurrent.TimeoutException;
import org.dcache.oncrpc4j.xdr.XdrAble;
import org.rpctls.rpc.XdrReader;

/** One role's upcall channel as the kernel holds it: a generation-specific way to make an RPC. */
interface KernelSide extends AutoCloseable {
    /** Calls {@code proc} with {@code args}; waits at most the upcall timeout. */
    <T> T call(int proc, XdrAble args, XdrReader.Decoder<T> result) throws IOException, TimeoutException, InterruptedException;

    /** Sends raw bytes as one message (a record in v1, a netlink packet in v2); returns the raw answer or null on timeout. */
    byte[] raw(byte[] message, long timeoutMillis) throws IOException, InterruptedException;

    @Override
    void close();
}
