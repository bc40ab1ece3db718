package org.rpctls.netlink;

/** Bytes that are not a well-formed netlink message; the message says what is wrong. */
public class MalformedNetlinkException extends Exception {
    public MalformedNetlinkException(String message) {
        super(message);
    }
}
