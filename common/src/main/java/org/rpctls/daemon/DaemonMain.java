package org.rpctls.daemon;

import java.io.PrintStream;
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
        if (o.help()) {
            out.println(DaemonOptions.usage(role));
            return 0;
        }
        if (o.version()) {
            out.printf("%s (rpctls %s) with %s [%s]%n", prog, version(), LibCrypto.OpenSSL_version(LibCrypto.OPENSSL_VERSION),
                    NativeLibraries.describe());
            return 0;
        }
        TlsContext ctx;
        try {
            ctx = TlsContext.create(o.tlsSettings());
        } catch (TlsConfigException e) {
            err.printf("%s: Can't set up TLS context: %s%n", prog, e.getMessage());
            return 1;
        }
        try (ctx) {
            if (o.probe() != null) return Probe.run(o, ctx, out);
            err.printf("%s: no kernel upcall service in this build yet (FreeBSD rpctls and Linux handshake upcalls "
                    + "come with the next stages); use --probe to test a configuration%n", prog);
            return 1;
        } catch (UsageException e) {
            err.println(prog + ": " + e.getMessage());
            return e.exitCode();
        } catch (Exception e) {
            err.printf("%s: %s%n", prog, e);
            return 1;
        }
    }

    static String version() {
        String v = DaemonMain.class.getPackage().getImplementationVersion();
        return v != null ? v : "dev";
    }
}
