package org.rpctls.tlsclntd;

import org.rpctls.daemon.DaemonMain;
import org.rpctls.tls.Role;

/** rpc.tlsclntd: the client side of NFS over TLS (the kernel's NFS mounts ask it for handshakes). */
public final class TlsClntd {
    private TlsClntd() {}

    public static void main(String[] args) {
        System.exit(DaemonMain.run(Role.CLIENT, args, System.out, System.err));
    }
}
