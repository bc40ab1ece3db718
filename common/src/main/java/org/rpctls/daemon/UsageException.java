package org.rpctls.daemon;

/** The command line cannot be used; the daemon prints the message (errx style) and exits with the code. */
public class UsageException extends Exception {
    private final int exitCode;

    public UsageException(String message, int exitCode) {
        super(message);
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }
}
