package org.rpctls.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real TLS peer (openssl s_server/s_client, gnutls-serv/gnutls-cli) run as a child process,
 * its stdout and stderr collected so tests can wait for a line and show everything on failure.
 */
public final class PeerProcess implements AutoCloseable {
    private final Process process;
    private final StringBuffer output = new StringBuffer();
    private final List<String> command;

    private PeerProcess(List<String> command) throws IOException {
        this.command = command;
        this.process = new ProcessBuilder(command).redirectErrorStream(true).start();
        Thread.ofVirtual().start(() -> pump(process.getInputStream()));
    }

    public static PeerProcess start(String... command) throws IOException {
        requireTool(command[0]);
        return new PeerProcess(List.of(command));
    }

    /** Fails loudly (not a skip) when a peer tool is missing: CI installs them (tools/setup). */
    public static void requireTool(String tool) {
        if (tool.contains("/")) {
            if (new java.io.File(tool).canExecute()) return;
            throw new AssertionError(tool + " is missing or not executable");
        }
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (new java.io.File(dir, tool).canExecute()) return;
        }
        throw new AssertionError(tool + " is not installed; run tools/setup (Debian: apt-get install openssl gnutls-bin)");
    }

    private void pump(InputStream in) {
        byte[] buf = new byte[4096];
        try {
            for (int n; (n = in.read(buf)) > 0; ) output.append(new String(buf, 0, n, StandardCharsets.UTF_8));
        } catch (IOException e) {
            // process ended
        }
    }

    /** Waits until the output contains {@code text}; fails with the output so far. */
    public void awaitOutput(String text, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            if (output.indexOf(text) >= 0) return;
            if (!process.isAlive() && output.indexOf(text) < 0) {
                Thread.sleep(50);
                if (output.indexOf(text) >= 0) return;
                throw new AssertionError(String.join(" ", command) + " exited (" + process.exitValue() + ") before printing \"" + text + "\":\n" + output);
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no \"" + text + "\" from " + String.join(" ", command) + " within " + timeout + ":\n" + output);
    }

    public String output() {
        return output.toString();
    }

    public OutputStream stdin() {
        return process.getOutputStream();
    }

    /** Closes stdin (s_client/gnutls-cli then send close_notify and exit) and waits for the exit code. */
    public int finish(Duration timeout) throws IOException, InterruptedException {
        process.getOutputStream().close();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not exit within " + timeout + ":\n" + output);
        }
        Thread.sleep(50); // let the pump take the last bytes
        return process.exitValue();
    }

    public int waitFor(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not exit within " + timeout + ":\n" + output);
        }
        Thread.sleep(50);
        return process.exitValue();
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(2, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A TCP port on 127.0.0.1 that was free a moment ago. */
    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
