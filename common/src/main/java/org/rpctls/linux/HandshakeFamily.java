package org.rpctls.linux;

import java.util.ArrayList;
import java.util.List;
import org.rpctls.netlink.MalformedNetlinkException;
import org.rpctls.netlink.NetlinkMessage;
import org.rpctls.netlink.NetlinkMessage.Attr;

/**
 * Linux's generic-netlink family "handshake" (Documentation/netlink/specs/handshake.yaml,
 * include/uapi/linux/handshake.h): the kernel multicasts READY to group "tlshd"; an agent
 * ACCEPTs (the socket lands in its fd table) and later sends DONE.
 */
public final class HandshakeFamily {
    private HandshakeFamily() {}

    public static final String NAME = "handshake";
    public static final String GROUP = "tlshd";
    public static final int VERSION = 1;

    public static final int CMD_READY = 1;
    public static final int CMD_ACCEPT = 2;
    public static final int CMD_DONE = 3;

    public static final int HANDLER_CLASS_TLSHD = 1;

    public static final int MSG_TYPE_CLIENTHELLO = 1;
    public static final int MSG_TYPE_SERVERHELLO = 2;

    public static final int AUTH_UNAUTH = 1;
    public static final int AUTH_PSK = 2;
    public static final int AUTH_X509 = 3;

    public static final int A_ACCEPT_SOCKFD = 1;
    public static final int A_ACCEPT_HANDLER_CLASS = 2;
    public static final int A_ACCEPT_MESSAGE_TYPE = 3;
    public static final int A_ACCEPT_TIMEOUT = 4;
    public static final int A_ACCEPT_AUTH_MODE = 5;
    public static final int A_ACCEPT_PEER_IDENTITY = 6;
    public static final int A_ACCEPT_CERTIFICATE = 7;
    public static final int A_ACCEPT_PEERNAME = 8;
    public static final int A_ACCEPT_KEYRING = 9;
    public static final int A_X509_CERT = 1;
    public static final int A_X509_PRIVKEY = 2;

    public static final int A_DONE_STATUS = 1;
    public static final int A_DONE_SOCKFD = 2;
    public static final int A_DONE_REMOTE_AUTH = 3;

    /** tlshd's peer id for a verified client certificate on the server side. */
    public static final int REMOTE_AUTH_VERIFIED_CERT = 0xFFFFFFFF;

    /**
     * The parameters of one accepted handshake request (the ACCEPT reply).
     *
     * @param sockfd         the socket, installed in the accepting process's fd table
     * @param messageType    CLIENTHELLO (we are the client) or SERVERHELLO
     * @param authMode       UNAUTH, PSK or X509
     * @param peername       the server name (client side; SNI and host check), or null
     * @param timeoutMs      the consumer's timeout, 0 if none was sent
     * @param peerIdentities PSK identities (key serials)
     * @param certSerial     key serial of a DER certificate (mount option cert_serial=), 0 if none
     * @param privkeySerial  key serial of a DER private key (privkey_serial=), 0 if none
     * @param keyring        keyring serial, 0 if none
     */
    public record AcceptParams(int sockfd, int messageType, int authMode, String peername, int timeoutMs, List<Integer> peerIdentities,
                               int certSerial, int privkeySerial, int keyring) {

        public String messageTypeName() {
            return switch (messageType) {
                case MSG_TYPE_CLIENTHELLO -> "CLIENTHELLO";
                case MSG_TYPE_SERVERHELLO -> "SERVERHELLO";
                default -> "message type " + messageType;
            };
        }

        public String authModeName() {
            return switch (authMode) {
                case AUTH_UNAUTH -> "unauth";
                case AUTH_PSK -> "psk";
                case AUTH_X509 -> "x509";
                default -> "auth " + authMode;
            };
        }

        /** The same parameters with another descriptor number (after passing the socket to another process). */
        public AcceptParams withSockfd(int fd) {
            return new AcceptParams(fd, messageType, authMode, peername, timeoutMs, peerIdentities, certSerial, privkeySerial, keyring);
        }

        /** Encodes the parameters as ACCEPT attributes (to hand a request to the sibling daemon). */
        public List<Attr> attrs() {
            List<Attr> a = new ArrayList<>();
            a.add(Attr.u32(A_ACCEPT_SOCKFD, sockfd));
            a.add(Attr.u32(A_ACCEPT_MESSAGE_TYPE, messageType));
            a.add(Attr.u32(A_ACCEPT_AUTH_MODE, authMode));
            if (peername != null) a.add(Attr.string(A_ACCEPT_PEERNAME, peername));
            if (timeoutMs != 0) a.add(Attr.u32(A_ACCEPT_TIMEOUT, timeoutMs));
            for (int id : peerIdentities) a.add(Attr.u32(A_ACCEPT_PEER_IDENTITY, id));
            if (certSerial != 0 || privkeySerial != 0) {
                var inner = new NetlinkMessage(0, 0, 0, 0, 0, 0, List.of(Attr.u32(A_X509_CERT, certSerial), Attr.u32(A_X509_PRIVKEY, privkeySerial))).encode();
                a.add(new Attr(A_ACCEPT_CERTIFICATE, java.util.Arrays.copyOfRange(inner, NetlinkMessage.NLMSG_HDRLEN + NetlinkMessage.GENL_HDRLEN, inner.length)));
            }
            if (keyring != 0) a.add(Attr.u32(A_ACCEPT_KEYRING, keyring));
            return a;
        }
    }

    static final int MAX_PEERNAME = 1024;

    /** Parses an ACCEPT reply; unknown attributes are ignored, missing required ones are an error. */
    public static AcceptParams parseAccept(List<Attr> attrs) throws MalformedNetlinkException {
        Integer sockfd = null;
        Integer msgType = null;
        int auth = 0;
        String peername = null;
        int timeout = 0;
        List<Integer> ids = new ArrayList<>();
        int cert = 0;
        int key = 0;
        int keyring = 0;
        for (Attr a : attrs) {
            switch (a.type()) {
                case A_ACCEPT_SOCKFD -> sockfd = a.u32();
                case A_ACCEPT_MESSAGE_TYPE -> msgType = a.u32();
                case A_ACCEPT_AUTH_MODE -> auth = a.u32();
                case A_ACCEPT_PEERNAME -> peername = a.string();
                case A_ACCEPT_TIMEOUT -> timeout = a.u32();
                case A_ACCEPT_PEER_IDENTITY -> {
                    if (ids.size() < 5) ids.add(a.u32());
                }
                case A_ACCEPT_CERTIFICATE -> {
                    for (Attr x : a.nested()) {
                        if (x.type() == A_X509_CERT) cert = x.u32();
                        if (x.type() == A_X509_PRIVKEY) key = x.u32();
                    }
                }
                case A_ACCEPT_KEYRING -> keyring = a.u32();
                default -> { /* newer kernels may add attributes: ignore them */ }
            }
        }
        if (sockfd == null) throw new MalformedNetlinkException("ACCEPT reply without HANDSHAKE_A_ACCEPT_SOCKFD");
        if (sockfd < 0) throw new MalformedNetlinkException("ACCEPT reply with socket " + sockfd);
        if (msgType == null) throw new MalformedNetlinkException("ACCEPT reply without HANDSHAKE_A_ACCEPT_MESSAGE_TYPE");
        if (peername != null && peername.isEmpty()) peername = null;
        // The kernel's peername is a host name (<= 253) or an address literal; anything longer is
        // not a name to check, and would not fit the handoff to the sibling daemon either.
        if (peername != null && peername.length() > MAX_PEERNAME) {
            throw new MalformedNetlinkException("ACCEPT reply with a peername of " + peername.length() + " characters");
        }
        return new AcceptParams(sockfd, msgType, auth, peername, timeout, List.copyOf(ids), cert, key, keyring);
    }

    /** The ACCEPT request for handler class TLSHD. */
    public static byte[] accept(int familyId, int seq) {
        return new NetlinkMessage(familyId, NetlinkMessage.NLM_F_REQUEST, seq, 0, CMD_ACCEPT, VERSION,
                List.of(Attr.u32(A_ACCEPT_HANDLER_CLASS, HANDLER_CLASS_TLSHD))).encode();
    }

    /** DONE: status (a positive errno, 0 = success), the socket, and remote-auth ids only on success. */
    public static byte[] done(int familyId, int seq, int status, int sockfd, List<Integer> remoteAuth) {
        List<Attr> a = new ArrayList<>();
        a.add(Attr.u32(A_DONE_STATUS, status));
        a.add(Attr.u32(A_DONE_SOCKFD, sockfd));
        if (status == 0) for (int id : remoteAuth) a.add(Attr.u32(A_DONE_REMOTE_AUTH, id));
        return new NetlinkMessage(familyId, NetlinkMessage.NLM_F_REQUEST | NetlinkMessage.NLM_F_ACK, seq, 0, CMD_DONE, VERSION, a).encode();
    }
}
