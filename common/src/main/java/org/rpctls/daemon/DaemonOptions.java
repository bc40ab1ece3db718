package org.rpctls.daemon;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.rpctls.tls.HostCheck;
import org.rpctls.tls.Role;
import org.rpctls.tls.TlsSettings;

/**
 * The command line of rpc.tlsclntd / rpc.tlsservd: FreeBSD's options, short and long
 * (freebsd-rpctls.md §3.1, §3.2), with getopt_long's syntax and FreeBSD's validation messages,
 * plus long options for what FreeBSD hard-codes.
 */
public record DaemonOptions(
        Role role,
        boolean tls12,              // -2
        String ciphers,             // -C
        Path certDir,               // -D
        int debugLevel,             // -d (a counter; only zero / non-zero matters)
        boolean checkHost,          // -h (server)
        Path caFile,                // -l
        boolean mutual,             // -m
        int maxThreads,             // -N (server; 0 = default)
        String domain,              // -n (server)
        Path caDir,                 // -p
        Path crlFile,               // -r
        boolean certUser,           // -u (server)
        boolean verbose,            // -v
        int wildcardFlags,          // -w / -W (server)
        Path pidFile,               // --pidfile
        String upcall,              // --upcall=local|netlink (null: from the kernel)
        Path emulatedKernel,        // --emulated-kernel=DIR
        String probe,               // --probe=HOST:PORT (client) / [ADDR:]PORT (server)
        boolean noKtlsCheck,        // --no-ktls-check (only with --emulated-kernel)
        int handshakeTimeout,       // --handshake-timeout=SECONDS (default 15, the kernel's upcall timeout)
        Path handoffDir,            // --handoff-dir=DIR (Linux: where the two daemons pass each other requests)
        boolean serialHandshakes,   // --serial-handshakes: one whole handshake at a time (FreeBSD 15's rpc.tlsservd; benchmarks)
        int statsInterval,          // --stats-interval=SECONDS (0: no periodic stats line)
        boolean help,
        boolean version) {

    public static String progName(Role role) {
        return role == Role.CLIENT ? "rpc.tlsclntd" : "rpc.tlsservd";
    }

    public static String usage(Role role) {
        return role == Role.CLIENT
                ? "usage: rpc.tlsclntd [-2] [-C available_ciphers] [-D certdir] [-d] [-l CAfile] [-m] [-p CApath] [-r CRLfile] [-v]"
                  + "\n       [--pidfile=path] [--upcall=local|netlink|handshake] [--emulated-kernel=dir [--no-ktls-check]]"
                  + "\n       [--handshake-timeout=seconds] [--handoff-dir=dir] [--serial-handshakes] [--probe=host:port]"
                  + "\n       [--stats-interval=seconds]"
                : "usage: rpc.tlsservd [-2] [-C available_ciphers] [-D certdir] [-d] [-h] [-l CAfile] [-m] [-N max_threads]"
                  + " [-n domain] [-p CApath] [-r CRLfile] [-u] [-v] [-W] [-w]"
                  + "\n       [--pidfile=path] [--upcall=local|netlink|handshake] [--emulated-kernel=dir [--no-ktls-check]]"
                  + "\n       [--handshake-timeout=seconds] [--handoff-dir=dir] [--serial-handshakes] [--probe=[addr:]port]"
                  + "\n       [--stats-interval=seconds]";
    }

    private static final String CLIENT_SHORT = "2C:D:dl:mp:r:v";
    private static final String SERVER_SHORT = "2C:D:dhl:N:n:mp:r:uvWw";

    /** Long option → the short option it stands for ('\0'-prefixed names are long-only). */
    private static Map<String, Character> longOptions(Role role) {
        if (role == Role.CLIENT) {
            return Map.of("usetls1_2", '2', "ciphers", 'C', "certdir", 'D', "debuglevel", 'd', "verifylocs", 'l',
                    "mutualverf", 'm', "verifydir", 'p', "crl", 'r', "verbose", 'v');
        }
        return Map.ofEntries(Map.entry("allowtls1_2", '2'), Map.entry("ciphers", 'C'), Map.entry("certdir", 'D'),
                Map.entry("debuglevel", 'd'), Map.entry("checkhost", 'h'), Map.entry("verifylocs", 'l'),
                Map.entry("maxthreads", 'N'), Map.entry("domain", 'n'), Map.entry("mutualverf", 'm'),
                Map.entry("verifydir", 'p'), Map.entry("crl", 'r'), Map.entry("certuser", 'u'), Map.entry("verbose", 'v'),
                Map.entry("multiwild", 'W'), Map.entry("singlewild", 'w'));
    }

    private static final List<String> EXTRA_WITH_ARG = List.of("pidfile", "upcall", "emulated-kernel", "probe", "handshake-timeout", "handoff-dir",
            "stats-interval");

    /** Parses {@code args}; {@code ncpu} bounds -N as FreeBSD does. */
    public static DaemonOptions parse(Role role, String[] args, int ncpu) throws UsageException {
        String prog = progName(role);
        String shortSpec = role == Role.CLIENT ? CLIENT_SHORT : SERVER_SHORT;
        Map<String, Character> longs = longOptions(role);
        var o = new Builder(role);
        int i = 0;
        while (i < args.length) {
            String a = args[i];
            if (a.equals("--")) {
                i++;
                break;
            }
            if (a.startsWith("--")) {
                String name = a.substring(2);
                String value = null;
                int eq = name.indexOf('=');
                if (eq >= 0) {
                    value = name.substring(eq + 1);
                    name = name.substring(0, eq);
                }
                if (name.equals("help")) {
                    o.help = true;
                    i++;
                    continue;
                }
                if (name.equals("version")) {
                    o.version = true;
                    i++;
                    continue;
                }
                if (name.equals("no-ktls-check")) {
                    o.noKtlsCheck = true;
                    i++;
                    continue;
                }
                if (name.equals("serial-handshakes")) {
                    if (value != null) throw usage(role, prog + ": option '--serial-handshakes' doesn't allow an argument");
                    o.serialHandshakes = true;
                    i++;
                    continue;
                }
                if (EXTRA_WITH_ARG.contains(name)) {
                    if (value == null) {
                        if (i + 1 >= args.length) throw usage(role, prog + ": option '--" + name + "' requires an argument");
                        value = args[++i];
                    }
                    o.extra(name, value, prog);
                    i++;
                    continue;
                }
                Character c = longs.get(name);
                if (c == null) throw usage(role, prog + ": unrecognized option '--" + name + "'");
                boolean takesArg = shortSpec.indexOf(c + ":") >= 0;
                if (takesArg && value == null) {
                    if (i + 1 >= args.length) throw usage(role, prog + ": option '--" + name + "' requires an argument");
                    value = args[++i];
                } else if (!takesArg && value != null) {
                    throw usage(role, prog + ": option '--" + name + "' doesn't allow an argument");
                }
                o.option(c, value, prog, ncpu);
                i++;
                continue;
            }
            if (a.startsWith("-") && a.length() > 1) {
                for (int k = 1; k < a.length(); k++) {
                    char c = a.charAt(k);
                    int at = shortSpec.indexOf(c);
                    if (c == ':' || at < 0) throw usage(role, prog + ": illegal option -- " + c);
                    boolean takesArg = at + 1 < shortSpec.length() && shortSpec.charAt(at + 1) == ':';
                    if (takesArg) {
                        String value;
                        if (k + 1 < a.length()) value = a.substring(k + 1);
                        else if (i + 1 < args.length) value = args[++i];
                        else throw usage(role, prog + ": option requires an argument -- " + c);
                        o.option(c, value, prog, ncpu);
                        break;
                    }
                    o.option(c, null, prog, ncpu);
                }
                i++;
                continue;
            }
            break; // first operand
        }
        if (i < args.length) throw usage(role, prog + ": unexpected argument " + args[i]);
        return o.validate(prog);
    }

    /** {@code v} as a decimal integer in lo..hi, else a usage error (exit 1) saying {@code message}. */
    private static int intIn(String v, int lo, int hi, String message) throws UsageException {
        int n;
        try {
            n = Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new UsageException(message, 1);
        }
        if (n < lo || n > hi) throw new UsageException(message, 1);
        return n;
    }

    private static UsageException usage(Role role, String message) {
        return new UsageException(message + "\n" + usage(role), 1);
    }

    private static final class Builder {
        final Role role;
        boolean tls12, checkHost, mutual, certUser, verbose, help, version, noKtlsCheck, serialHandshakes;
        String ciphers, domain, upcall, probe;
        Path certDir, caFile, caDir, crlFile, pidFile, emulatedKernel;
        Path handoffDir = Path.of("/run/rpctls");
        int debugLevel, maxThreads;
        int handshakeTimeout = 15;
        int statsInterval;
        int wildcardFlags = HostCheck.NO_WILDCARDS;

        Builder(Role role) {
            this.role = role;
            certDir = TlsSettings.defaults(role).certDir();
        }

        void option(char c, String v, String prog, int ncpu) throws UsageException {
            switch (c) {
                case '2' -> tls12 = true;
                case 'C' -> ciphers = v;
                case 'D' -> certDir = Path.of(v);
                case 'd' -> debugLevel++;
                case 'h' -> checkHost = true;
                case 'l' -> caFile = Path.of(v);
                case 'm' -> mutual = true;
                case 'N' -> maxThreads = intIn(v, 1, ncpu, prog + ": maximum threads must be between 1 and number of CPUs (" + ncpu + ")");
                case 'n' -> domain = v;
                case 'p' -> caDir = Path.of(v);
                case 'r' -> crlFile = Path.of(v);
                case 'u' -> certUser = true;
                case 'v' -> verbose = true;
                case 'W' -> {
                    if (wildcardFlags != HostCheck.NO_WILDCARDS) throw new UsageException(prog + ": options -w and -W are mutually exclusive", 1);
                    wildcardFlags = HostCheck.MULTI_LABEL_WILDCARDS;
                }
                case 'w' -> {
                    if (wildcardFlags != HostCheck.NO_WILDCARDS) throw new UsageException(prog + ": options -w and -W are mutually exclusive", 1);
                    wildcardFlags = HostCheck.SINGLE_LABEL_WILDCARDS;
                }
                default -> throw new IllegalStateException("option " + c);
            }
        }

        void extra(String name, String v, String prog) throws UsageException {
            switch (name) {
                case "pidfile" -> pidFile = Path.of(v);
                case "upcall" -> {
                    if (!v.equals("local") && !v.equals("netlink") && !v.equals("handshake")) {
                        throw new UsageException(prog + ": --upcall must be local, netlink or handshake, not \"" + v + "\"", 1);
                    }
                    upcall = v;
                }
                case "emulated-kernel" -> emulatedKernel = Path.of(v);
                case "handoff-dir" -> handoffDir = Path.of(v);
                case "probe" -> probe = v;
                case "handshake-timeout" -> handshakeTimeout = intIn(v, 1, 15, prog + ": --handshake-timeout must be 1..15 seconds (the kernel waits 15)");
                case "stats-interval" -> statsInterval = intIn(v, 1, 86400, prog + ": --stats-interval must be 1..86400 seconds");
                default -> throw new IllegalStateException(name);
            }
        }

        DaemonOptions validate(String prog) throws UsageException {
            boolean ca = caFile != null || caDir != null;
            if (role == Role.CLIENT) {
                if (crlFile != null && !ca) throw new UsageException(prog + ": -r requires the -l <CAfile> and/or -p <CApath> options", 1);
            } else {
                if (mutual && !ca) throw new UsageException(prog + ": -m requires the -l <CAfile> and/or -p <CApath> options", 1);
                if (checkHost && (!mutual || !ca)) {
                    throw new UsageException(prog + ": -h requires the -m plus the -l <CAfile> and/or -p <CApath> options", 1);
                }
                if (!checkHost && wildcardFlags != HostCheck.NO_WILDCARDS) {
                    throw new UsageException(prog + ": The -w or -W options require the -h option", 1);
                }
                if (certUser && (!mutual || !ca)) {
                    throw new UsageException(prog + ": -u requires the -m plus the -l <CAfile> and/or -p <CApath> options", 1);
                }
            }
            if (noKtlsCheck && emulatedKernel == null) {
                throw new UsageException(prog + ": --no-ktls-check is only allowed with --emulated-kernel", 1);
            }
            return new DaemonOptions(role, tls12, ciphers, certDir, debugLevel, checkHost, caFile, mutual, maxThreads, domain,
                    caDir, crlFile, certUser, verbose, wildcardFlags, pidFile, upcall, emulatedKernel, probe, noKtlsCheck, handshakeTimeout,
                    handoffDir, serialHandshakes, statsInterval, help, version);
        }
    }

    /** The TLS engine settings these options describe. */
    public TlsSettings tlsSettings() {
        TlsSettings s = TlsSettings.defaults(role).withCertDir(certDir).withCa(caFile, caDir).withCrl(crlFile)
                .withTls12(tls12).withCiphersuites(ciphers);
        if (role == Role.CLIENT) return s.withOwnCert(mutual);
        s = s.withPeerCertRequest(mutual);
        if (certUser) s = s.withCertUserDomain(domain != null ? domain : org.rpctls.sys.Users.defaultDomain());
        return s;
    }

    /**
     * The settings for Linux's handshake upcall: the client always verifies the server (against
     * -l/-p, else the system trust store) and presents its certificate (with -m) only when the
     * kernel asks for x509; the server always asks for an optional client certificate.
     */
    public TlsSettings linuxTlsSettings(boolean withOwnCert) {
        boolean system = caFile == null && caDir == null;
        TlsSettings s = TlsSettings.defaults(role).withCertDir(certDir).withCa(caFile, caDir).withCrl(crlFile)
                .withTls12(tls12).withCiphersuites(ciphers).withSystemTrust(system);
        if (role == Role.CLIENT) return s.withOwnCert(withOwnCert);
        return s.withPeerCertRequest(true).withRejectBadPeerCert(true);
    }

    /** FreeBSD's host check for this role: the client checks with -l/-p, the server with -h. */
    public HostCheck hostCheck() {
        if (role == Role.CLIENT) return caFile != null || caDir != null ? new HostCheck.ReverseDns(HostCheck.NO_WILDCARDS) : HostCheck.NONE;
        return checkHost ? new HostCheck.ReverseDns(wildcardFlags) : HostCheck.NONE;
    }

    /** Options as given, for the start-up log line. */
    public List<String> describe() {
        List<String> d = new ArrayList<>();
        if (tls12) d.add("-2");
        if (ciphers != null) d.add("-C " + ciphers);
        d.add("-D " + certDir);
        if (caFile != null) d.add("-l " + caFile);
        if (caDir != null) d.add("-p " + caDir);
        if (crlFile != null) d.add("-r " + crlFile);
        if (mutual) d.add("-m");
        if (checkHost) d.add("-h");
        if (certUser) d.add("-u");
        return d;
    }
}
