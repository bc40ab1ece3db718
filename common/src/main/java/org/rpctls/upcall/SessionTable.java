package org.rpctls.upcall;

import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.rpctls.tls.TlsSession;

/**
 * The daemon's established sessions (FreeBSD's ssl_entry list), by the key the kernel uses.
 * Version-1 keys carry this daemon's start time, so ids from an earlier instance never match.
 */
public final class SessionTable {
    private final ConcurrentHashMap<SessionKey, Entry> sessions = new ConcurrentHashMap<>();
    private final AtomicLong nextRefno = new AtomicLong(1);
    private final long startSec;
    private final long startUsec;

    /** A session and what the logs say about its peer. */
    public record Entry(SessionKey key, TlsSession session, String peer) {}

    public SessionTable(long startSec, long startUsec) {
        this.startSec = startSec;
        this.startUsec = startUsec;
    }

    public long startSec() {
        return startSec;
    }

    public long startUsec() {
        return startUsec;
    }

    /** A fresh version-1 key: refno counts from 1, never 0 and never the kernel's "handshaking" marker. */
    public SessionKey.Triple newTriple() {
        while (true) {
            long r = nextRefno.getAndIncrement();
            if (r != 0 && r != org.rpctls.rpc.Rpctls.RPCTLS_REFNO_HANDSHAKE) return new SessionKey.Triple(startSec, startUsec, r);
        }
    }

    /** Adds a session; false (and nothing added) if the key is already taken. */
    public boolean add(SessionKey key, TlsSession session, String peer) {
        return sessions.putIfAbsent(key, new Entry(key, session, peer)) == null;
    }

    public Entry get(SessionKey key) {
        return sessions.get(key);
    }

    public Entry remove(SessionKey key) {
        return sessions.remove(key);
    }

    public int size() {
        return sessions.size();
    }

    public List<Entry> entries() {
        return List.copyOf(sessions.values());
    }
}
