package org.rpctls.tlsservd;

import org.rpctls.daemon.DaemonMain;
import org.rpctls.tls.Role;

/** rpc.tlsservd: the server side of NFS over TLS (the kernel's nfsd asks it for handshakes). */
public final class TlsServd {
    private TlsServd() {}

    public static void main(String[] args) {
        System.exit(DaemonMain.run(Role.SERVER, args, System.out, System.err));
    }
}
