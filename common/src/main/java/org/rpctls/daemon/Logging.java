package org.rpctls.daemon;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;
import org.slf4j.LoggerFactory;

/**
 * Where the daemons' log lines go: stderr in the foreground (-d), else syslog(3) with facility
 * daemon. One line per event. oncrpc4j's and Grizzly's own chatter is kept at WARN.
 */
public final class Logging {
    private Logging() {}

    public static void configure(String prog, boolean foreground) {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        ctx.reset();
        Appender<ILoggingEvent> appender;
        if (foreground) {
            PatternLayoutEncoder enc = new PatternLayoutEncoder();
            enc.setContext(ctx);
            enc.setPattern(prog + ": %msg%n");
            enc.start();
            ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
            console.setContext(ctx);
            console.setTarget("System.err");
            console.setEncoder(enc);
            appender = console;
        } else {
            appender = new SyslogAppender(prog);
            appender.setContext(ctx);
        }
        appender.setName("rpctls");
        appender.start();
        Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.INFO);
        root.addAppender(appender);
        ctx.getLogger("org.dcache").setLevel(Level.WARN);
        ctx.getLogger("org.glassfish").setLevel(Level.WARN);
    }
}
