package org.rpctls.sys;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Optional;
import org.rpctls.ffi.CStrings;
import org.rpctls.ffi.LibC;

/** The password and group databases, as the -u certificate-to-user mapping needs them. */
public final class Users {
    private Users() {}

    /** FreeBSD's NGROUPS_MAX is 1023; the kernel takes at most that many gids per connection. */
    public static final int NGROUPS = 1023;

    /** A user and the gids getgrouplist(3) gives for it; gids[0] is the primary group. */
    public record Identity(String name, int uid, int[] gids) {
        @Override
        public String toString() {
            return name + " uid=" + Integer.toUnsignedString(uid) + " gids=" + Arrays.toString(gids);
        }
    }

    /** getpwnam_r + getgrouplist; empty if the user does not exist. */
    public static Optional<Identity> lookup(String user) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment name = arena.allocateFrom(user);
            MemorySegment pwd = arena.allocate(LibC.PASSWD_SIZE, 8);
            MemorySegment result = arena.allocate(ADDRESS);
            long buflen = 4096;
            while (true) {
                MemorySegment buf = arena.allocate(buflen);
                int r = LibC.getpwnam_r(name, pwd, buf, buflen, result);
                if (r == LibC.ERANGE && buflen < (1 << 20)) {
                    buflen *= 4;
                    continue;
                }
                if (r != 0 || result.get(ADDRESS, 0).equals(MemorySegment.NULL)) return Optional.empty();
                break;
            }
            String pwName = CStrings.read(pwd.get(ADDRESS, LibC.PW_NAME_OFFSET));
            int uid = pwd.get(JAVA_INT, LibC.PW_UID_OFFSET);
            int gid = pwd.get(JAVA_INT, LibC.PW_GID_OFFSET);
            MemorySegment groups = arena.allocate(JAVA_INT, NGROUPS);
            MemorySegment ngroups = arena.allocateFrom(JAVA_INT, NGROUPS);
            // -1 means more than NGROUPS groups; the list is then truncated, as FreeBSD's is.
            LibC.getgrouplist(arena.allocateFrom(pwName), gid, groups, ngroups);
            int n = Math.min(Math.max(ngroups.get(JAVA_INT, 0), 0), NGROUPS);
            int[] gids = groups.asSlice(0, (long) n * 4).toArray(JAVA_INT);
            if (gids.length == 0) gids = new int[] {gid};
            return Optional.of(new Identity(pwName, uid, gids));
        }
    }

    /** gethostname(3). */
    public static String hostName() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(256);
            if (LibC.gethostname(buf, buf.byteSize() - 1) != 0) return "";
            return buf.getString(0);
        }
    }

    /** The canonical name of {@code host} from getaddrinfo(AI_CANONNAME), if any. */
    public static Optional<String> canonicalName(String host) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment hints = arena.allocate(LibC.ADDRINFO);
            hints.set(JAVA_INT, 0, LibC.AI_CANONNAME);
            MemorySegment res = arena.allocate(ADDRESS);
            if (LibC.getaddrinfo(arena.allocateFrom(host), MemorySegment.NULL, hints, res) != 0) return Optional.empty();
            MemorySegment ai = res.get(ADDRESS, 0).reinterpret(LibC.ADDRINFO.byteSize());
            try {
                long off = LibC.ADDRINFO.byteOffset(java.lang.foreign.MemoryLayout.PathElement.groupElement("ai_canonname"));
                return Optional.ofNullable(CStrings.read(ai.get(ADDRESS, off)));
            } finally {
                LibC.freeaddrinfo(ai);
            }
        }
    }

    /**
     * The NFSv4 domain FreeBSD's rpc.tlsservd uses for -u when -n is not given: what follows
     * the first '.' of the host name, else of the canonical name, else "default.domain".
     */
    public static String defaultDomain() {
        String host = hostName();
        int dot = host.indexOf('.');
        if (dot >= 0 && dot + 1 < host.length()) return host.substring(dot + 1);
        Optional<String> canon = canonicalName(host);
        if (canon.isPresent()) {
            dot = canon.get().indexOf('.');
            if (dot >= 0 && dot + 1 < canon.get().length()) return canon.get().substring(dot + 1);
        }
        return "default.domain";
    }
}
