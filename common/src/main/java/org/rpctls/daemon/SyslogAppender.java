package org.rpctls.daemon;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.rpctls.ffi.LibC;

/**
 * Logback appender that writes through syslog(3) with facility LOG_DAEMON, as FreeBSD's
 * daemons do (no Java library talks to the local syslog socket; the JDK has no AF_UNIX
 * datagrams). Levels map to LOG_ERR, LOG_WARNING, LOG_INFO and LOG_DEBUG.
 */
public final class SyslogAppender extends AppenderBase<ILoggingEvent> {
    private static final MemorySegment FORMAT = Arena.global().allocateFrom("%s");
    private final MemorySegment ident;

    public SyslogAppender(String ident) {
        // openlog keeps the pointer: the string must live as long as the process.
        this.ident = Arena.global().allocateFrom(ident);
    }

    @Override
    public void start() {
        LibC.openlog(ident, LibC.LOG_PID | LibC.LOG_NDELAY, LibC.LOG_DAEMON);
        super.start();
    }

    static int priority(Level level) {
        if (level.isGreaterOrEqual(Level.ERROR)) return LibC.LOG_ERR;
        if (level.isGreaterOrEqual(Level.WARN)) return LibC.LOG_WARNING;
        if (level.isGreaterOrEqual(Level.INFO)) return LibC.LOG_INFO;
        return LibC.LOG_DEBUG;
    }

    @Override
    protected void append(ILoggingEvent event) {
        String text = event.getFormattedMessage();
        if (event.getThrowableProxy() != null) {
            text += ": " + event.getThrowableProxy().getClassName() + ": " + event.getThrowableProxy().getMessage();
        }
        try (Arena arena = Arena.ofConfined()) {
            LibC.syslog(LibC.LOG_DAEMON | priority(event.getLevel()), FORMAT, arena.allocateFrom(text));
        }
    }
}
