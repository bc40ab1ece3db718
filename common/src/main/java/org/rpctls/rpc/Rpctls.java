package org.rpctls.rpc;

/** Program numbers, versions, procedures and error codes of the upcall programs (rpcsec_tls.h, rpctls[cs]d.x). */
public final class Rpctls {
    private Rpctls() {}

    /** rpc.tlsclntd's program ("rpctlscd"). */
    public static final int RPCTLSCD = 0x40677374;
    /** rpc.tlsservd's program ("rpctlssd"). */
    public static final int RPCTLSSD = 0x40677375;
    /** FreeBSD 13/14: AF_LOCAL transport, (sec, usec, refno) ids. */
    public static final int VERSION_1 = 1;
    /** FreeBSD 15: netlink transport, socookie ids. */
    public static final int VERSION_2 = 2;

    public static final int NULLPROC = 0;
    public static final int CONNECT = 1;
    public static final int HANDLERECORD = 2;
    public static final int DISCONNECT = 3;

    public static final int RPCTLSERR_OK = 0;
    public static final int RPCTLSERR_NOCLOSE = 1;
    public static final int RPCTLSERR_NOSSL = 2;
    public static final int RPCTLSERR_NOSOCKET = 3;

    /** v13/v14: the refno the kernel stores while a handshake is in progress; never handed out. */
    public static final long RPCTLS_REFNO_HANDSHAKE = 0xFFFFFFFFFFFFFFFFL;

    public static String procedureName(int proc) {
        return switch (proc) {
            case NULLPROC -> "NULL";
            case CONNECT -> "CONNECT";
            case HANDLERECORD -> "HANDLERECORD";
            case DISCONNECT -> "DISCONNECT";
            default -> "procedure " + proc;
        };
    }

    public static String errorName(int reterr) {
        return switch (reterr) {
            case RPCTLSERR_OK -> "OK";
            case RPCTLSERR_NOCLOSE -> "NOCLOSE";
            case RPCTLSERR_NOSSL -> "NOSSL";
            case RPCTLSERR_NOSOCKET -> "NOSOCKET";
            default -> "error " + reterr;
        };
    }
}
