package org.rpctls.upcall;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * The emulated kernel's table of sockets offered to the daemons (DIR/broker.tab), shared by the
 * emulator and the daemons through a MAP_SHARED mapping.
 *
 * <p>Why: FreeBSD hands a daemon an upcall's socket with one system call, rpctls_syscall, which
 * takes the socket out of the kernel's tree and installs a descriptor for it. The emulator's
 * Unix-socket broker needed a connect, a sendmsg, a recvmsg and a thread switch in the emulator
 * for that (~100 µs, ~12% of the server daemon's CPU in the handshake storm), so the benchmark
 * partly measured the emulator. With this table the daemon takes the socket with a CAS here and
 * one pidfd_getfd(2) of the descriptor the emulator keeps for the offer: one system call, as on
 * FreeBSD. The broker still serves its requests from the same table, so either way a socket is
 * handed out at most once.
 *
 * <p>Layout (native byte order; every field naturally aligned): a 64-byte header (magic,
 * version, the emulator's pid, open flag, claims counter, slot count, longest probe), then
 * {@link #SLOTS} slots of 32 bytes: {@code long ctl} (state in bits 0-3, a generation in bits
 * 4-31 bumped by every offer of the slot, the claiming process's pid in bits 32-63),
 * {@code long cookie}, {@code int fd} (the emulator's descriptor). An offer probes linearly from
 * a hash of the cookie; the header keeps the longest displacement so that a lookup knows where to
 * stop. Every state change is a CAS on {@code ctl}, atomic across processes on a shared mapping;
 * the generation makes a slot freed and offered again while a claimer looked at it fail that
 * claimer's CAS (no ABA).
 *
 * <p>States: FREE → RESERVED (the emulator writes cookie and fd) → OFFERED (published with
 * release) → CLAIMING (a claimer owns it: it reads the fd and takes the socket) → FREE; or
 * OFFERED → FREE when the emulator withdraws the offer (the kernel gave up on the upcall).
 */
public final class ClaimTable {
    public static final String FILE_NAME = "broker.tab";
    public static final int SLOTS = 8192;
    static final int MAGIC = 0x52544142; // "RTAB"
    static final int VERSION = 1;

    private static final long H_MAGIC = 0;
    private static final long H_VERSION = 4;
    private static final long H_PID = 8;
    private static final long H_OPEN = 12;
    private static final long H_CLAIMS = 16;
    private static final long H_SLOTS = 24;
    private static final long H_MAX_PROBE = 28;
    private static final long HEADER = 64;
    private static final long SLOT = 32;
    private static final long S_CTL = 0;
    private static final long S_COOKIE = 8;
    private static final long S_FD = 16;
    static final long SIZE = HEADER + SLOTS * SLOT;

    static final int FREE = 0;
    static final int RESERVED = 1;
    static final int OFFERED = 2;
    static final int CLAIMING = 3;

    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private final MemorySegment seg;
    private final int mask;

    private ClaimTable(MemorySegment seg) {
        this.seg = seg;
        this.mask = SLOTS - 1;
    }

    /** The emulator's table in DIR/broker.tab for the daemons to map; replaces an old file (a new inode: old mappings keep the old one). */
    public static ClaimTable create(Path file, int emulatorPid) throws IOException {
        Files.deleteIfExists(file);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.allocate(1), SIZE - 1); // sized, all zero: every slot FREE
            ClaimTable t = new ClaimTable(ch.map(FileChannel.MapMode.READ_WRITE, 0, SIZE, Arena.ofAuto()));
            t.init(emulatorPid);
            return t;
        }
    }

    /** A table in this process's memory only: the broker's bookkeeping when no daemon may map it (forced broker hand-over). */
    public static ClaimTable inMemory(int emulatorPid) {
        ClaimTable t = new ClaimTable(Arena.ofAuto().allocate(SIZE, 64));
        t.init(emulatorPid);
        return t;
    }

    private void init(int emulatorPid) {
        seg.set(JAVA_INT, H_VERSION, VERSION);
        seg.set(JAVA_INT, H_PID, emulatorPid);
        seg.set(JAVA_INT, H_OPEN, 1);
        seg.set(JAVA_INT, H_SLOTS, SLOTS);
        INT.setRelease(seg, H_MAGIC, MAGIC); // last: a daemon that sees the magic sees the rest
    }

    /** The daemon's view of the emulator's table. */
    public static ClaimTable open(Path file) throws IOException {
        MemorySegment seg;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            if (ch.size() != SIZE) throw new IOException(file + ": " + ch.size() + " bytes, not a claim table of " + SIZE);
            seg = ch.map(FileChannel.MapMode.READ_WRITE, 0, SIZE, Arena.ofAuto());
        }
        if ((int) INT.getAcquire(seg, H_MAGIC) != MAGIC || seg.get(JAVA_INT, H_VERSION) != VERSION || seg.get(JAVA_INT, H_SLOTS) != SLOTS) {
            throw new IOException(file + ": not a version " + VERSION + " claim table");
        }
        return new ClaimTable(seg);
    }

    public int emulatorPid() {
        return seg.get(JAVA_INT, H_PID);
    }

    /** False once the emulator closed it (its offers are all withdrawn then). */
    public boolean isOpen() {
        return (int) INT.getAcquire(seg, H_OPEN) == 1;
    }

    /** The emulator shuts the table: nothing can be claimed from it any more. */
    public void markClosed() {
        INT.setRelease(seg, H_OPEN, 0);
    }

    /** How many sockets were claimed, by either hand-over, since the table was made. */
    public long claims() {
        return (long) LONG.getAcquire(seg, H_CLAIMS);
    }

    /** The longest distance of an offer from its hash slot so far (how far a lookup scans). */
    public int longestProbe() {
        return (int) INT.getAcquire(seg, H_MAX_PROBE);
    }

    // ---------------------------------------------------------------- the emulator's side

    /** An offer in the table: which slot, in which generation. */
    public record Offer(int slot, int gen) {}

    /** Offers emulator descriptor {@code fd} under {@code cookie}. The descriptor must stay open until {@link #withdraw} says otherwise. */
    public Offer offer(long cookie, int fd) {
        int h = hash(cookie);
        for (int d = 0; d < SLOTS; d++) {
            int i = (h + d) & mask;
            long off = slot(i);
            long c = (long) LONG.getAcquire(seg, off + S_CTL);
            if (state(c) != FREE) continue;
            int gen = (gen(c) + 1) & 0x0fffffff;
            if (!LONG.compareAndSet(seg, off + S_CTL, c, ctl(RESERVED, gen, 0))) continue;
            seg.set(JAVA_LONG, off + S_COOKIE, cookie);
            seg.set(JAVA_INT, off + S_FD, fd);
            // the longest displacement first, so that a lookup that finds this slot OFFERED also scans far enough
            for (int m; d > (m = (int) INT.getAcquire(seg, H_MAX_PROBE)); ) {
                if (INT.compareAndSet(seg, H_MAX_PROBE, m, d)) break;
            }
            LONG.setRelease(seg, off + S_CTL, ctl(OFFERED, gen, 0));
            return new Offer(i, gen);
        }
        throw new IllegalStateException("socket claim table full (" + SLOTS + " offers)");
    }

    /** What became of an offer the emulator withdraws. */
    public enum Withdrawn {
        /** Never claimed: the slot is free; the emulator's descriptor may be closed. */
        UNCLAIMED,
        /** Claimed (and the claim is over): the emulator's descriptor may be closed. */
        CLAIMED,
        /**
         * A claim is still in progress after the wait (a stopped daemon): the socket counts as
         * claimed, but the emulator must keep its descriptor open, or the claimer could take
         * whatever reuses the number.
         */
        CLAIM_STUCK
    }

    /**
     * Withdraws {@code o} (the kernel's rpctls_rpc_failed or the end of the upcall). While a
     * claimer holds the slot this waits, up to {@code wait}, for the claim to finish: the
     * descriptor it is taking must stay open until then. A claimer that died mid-claim is
     * detected and its claim ended.
     */
    public Withdrawn withdraw(Offer o, Duration wait) {
        long off = slot(o.slot());
        long deadline = System.nanoTime() + wait.toNanos();
        for (int spins = 0; ; spins++) {
            long c = (long) LONG.getAcquire(seg, off + S_CTL);
            if (gen(c) != o.gen()) return Withdrawn.CLAIMED; // claimed, freed and offered again since
            switch (state(c)) {
                case OFFERED -> {
                    if (LONG.compareAndSet(seg, off + S_CTL, c, ctl(FREE, o.gen(), 0))) return Withdrawn.UNCLAIMED;
                    continue;
                }
                case CLAIMING -> {
                    int claimer = pid(c);
                    if (spins >= 200 && !ProcessHandle.of(claimer).map(ProcessHandle::isAlive).orElse(false)) {
                        // the claimer died between its CAS and the end of its claim: its copy (if any) died with it
                        if (LONG.compareAndSet(seg, off + S_CTL, c, ctl(FREE, o.gen(), 0))) return Withdrawn.CLAIMED;
                        continue;
                    }
                    if (System.nanoTime() - deadline > 0) return Withdrawn.CLAIM_STUCK;
                    // a claim takes microseconds: spin, then yield, then sleep
                    if (spins < 100) Thread.onSpinWait();
                    else if (spins < 200) Thread.yield();
                    else LockSupport.parkNanos(1_000_000);
                }
                default -> {
                    return Withdrawn.CLAIMED; // FREE in our generation: a claim took it and is over
                }
            }
        }
    }

    // ---------------------------------------------------------------- the claimer's side

    /**
     * rpctls_syscall's lookup: takes the slot offered under {@code cookie} for claimer
     * {@code pid} and returns its index, or -1 if nothing is offered under it (EPERM in the
     * kernel; a socket already claimed is no longer there). The caller reads {@link #fd} and
     * must call {@link #finish} whatever happens next.
     */
    public int claim(long cookie, int pid) {
        int h = hash(cookie);
        int maxProbe = (int) INT.getAcquire(seg, H_MAX_PROBE);
        for (int d = 0; d <= maxProbe; d++) {
            int i = (h + d) & mask;
            long off = slot(i);
            while (true) {
                long c = (long) LONG.getAcquire(seg, off + S_CTL);
                // cookie is read after ctl: if the slot changed in between, the generation did and the CAS fails
                if (state(c) != OFFERED || seg.get(JAVA_LONG, off + S_COOKIE) != cookie) break;
                if (LONG.compareAndSet(seg, off + S_CTL, c, ctl(CLAIMING, gen(c), pid))) return i;
                // lost to another claimer or a withdrawal: look at the slot again
            }
        }
        return -1;
    }

    /** The emulator's descriptor in a slot this claimer holds. */
    public int fd(int slot) {
        return seg.get(JAVA_INT, slot(slot) + S_FD);
    }

    /** Ends a claim: counts it (the socket left the kernel's tree, whether or not a descriptor came of it) and frees the slot. */
    public void finish(int slot) {
        long off = slot(slot);
        LONG.getAndAdd(seg, H_CLAIMS, 1L);
        long c = (long) LONG.getAcquire(seg, off + S_CTL);
        LONG.setRelease(seg, off + S_CTL, ctl(FREE, gen(c), 0));
    }

    // ---------------------------------------------------------------- layout

    private static long slot(int i) {
        return HEADER + i * SLOT;
    }

    private int hash(long cookie) {
        // murmur3's fmix64: the emulator's cookies differ only above bit 8
        long k = cookie;
        k ^= k >>> 33;
        k *= 0xff51afd7ed558ccdL;
        k ^= k >>> 33;
        k *= 0xc4ceb9fe1a85ec53L;
        k ^= k >>> 33;
        return (int) k & mask;
    }

    static long ctl(int state, int gen, int pid) {
        return (long) pid << 32 | (long) (gen & 0x0fffffff) << 4 | state;
    }

    static int state(long ctl) {
        return (int) ctl & 0xf;
    }

    static int gen(long ctl) {
        return (int) (ctl >>> 4) & 0x0fffffff;
    }

    static int pid(long ctl) {
        return (int) (ctl >>> 32);
    }
}
