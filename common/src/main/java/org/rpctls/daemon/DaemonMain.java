package org.rpctls.daemon;

import java.io.PrintStream;
import org.rpctls.ffi.LibC;
import org.rpctls.ffi.LibCrypto;
import org.rpctls.ffi.NativeLibraries;
import org.rpctls.tls.Role;
import org.rpctls.tls.TlsConfigException;
import org.rpctls.tls.TlsContext;

/** The shared main of both daemons; each daemon module passes its role. */
public final class DaemonMain {
    private DaemonMain() {}

    public static int run(Role role, String[] args, PrintStream out, PrintStream err) {
        String prog = DaemonOptions.progName(role);
        DaemonOptions o;
        try {
            o = DaemonOptions.parse(role, args, Runtime.getRuntime().availableProcessors());
        } catch (UsageException e) {
            err.println(e.getMessage());
            return e.exitCode();
        }
        // Before anything that may make OpenSSL allocate (RPCTLS_COUNT_OPENSSL_ALLOCS=1 only).
        OpenSslAllocations.installIfRequested();
        if (o.help()) {
            out.println(DaemonOptions.usage(role));
            return 0;
        }
        if (o.version()) {
            out.printf("%s (rpctls %s) with %s [%s]%n", prog, version(), LibCrypto.OpenSSL_version(LibCrypto.OPENSSL_VERSION),
                    NativeLibraries.describe());
            return 0;
        }
        if (o.probe() != null) {
            TlsContext ctx;
            try {
                ctx = TlsContext.create(o.tlsSettings());
            } catch (TlsConfigException e) {
                err.printf("%s: Can't set up TLS context: %s%n", prog, e.getMessage());
                return 1;
            }
            try (ctx) {
                return Probe.run(o, ctx, out);
            } catch (UsageException e) {
                err.println(prog + ": " + e.getMessage());
                return e.exitCode();
            } catch (Exception e) {
                err.printf("%s: %s%n", prog, e);
                return 1;
            }
        }
        // Started by the launcher to run in the background: it waits for RPCTLS_READY_FILE.
        String readyFile = System.getenv("RPCTLS_READY_FILE");
        boolean background = readyFile != null && o.debugLevel() == 0;
        if (background) LibC.setsid();
        Logging.configure(prog, o.debugLevel() > 0 || !background && System.getenv("RPCTLS_SYSLOG") == null);
        return new Daemon(o).run(err, () -> {
            if (background) detach(readyFile);
        });
    }

    /** Tells the launcher start-up went well, then lets go of its stdout/stderr, as daemon(3) would. */
    static void detach(String readyFile) {
        try {
            java.nio.file.Files.writeString(java.nio.file.Path.of(readyFile), ProcessHandle.current().pid() + "\n");
        } catch (java.io.IOException e) {
            System.err.println("cannot write " + readyFile + ": " + e.getMessage());
        }
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            int devnull = LibC.open(arena.allocateFrom("/dev/null"), LibC.O_RDWR);
            if (devnull >= 0) {
                LibC.dup2(devnull, 0);
                LibC.dup2(devnull, 1);
                LibC.dup2(devnull, 2);
                if (devnull > 2) LibC.close(devnull);
            }
        }
    }

    static String version() {
        String v = DaemonMain.class.getPackage().getImplementationVersion();
        return v != null ? v : "dev";
    }
}
