package org.rpctls.daemon;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * pidfile(3) semantics: the file is created mode 0600 and locked for the life of the daemon, so
 * a second instance finds it locked and learns the first one's pid.
 */
public final class Pidfile implements AutoCloseable {
    private final Path path;
    private final FileChannel channel;
    private final FileLock lock;

    /** Another instance holds the pidfile. */
    public static final class AlreadyRunningException extends Exception {
        private final String pid;

        AlreadyRunningException(String pid) {
            super("already running, pid: " + pid + ".");
            this.pid = pid;
        }

        public String pid() {
            return pid;
        }
    }

    private Pidfile(Path path, FileChannel channel, FileLock lock) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
    }

    public static Pidfile open(Path path) throws IOException, AlreadyRunningException {
        Files.createDirectories(path.toAbsolutePath().getParent());
        FileChannel ch = FileChannel.open(path, java.util.Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (IOException e) {
            ch.close();
            throw e;
        }
        if (lock == null) {
            ByteBuffer b = ByteBuffer.allocate(32);
            ch.read(b, 0);
            ch.close();
            String pid = new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII).trim();
            throw new AlreadyRunningException(pid.isEmpty() ? "unknown" : pid);
        }
        return new Pidfile(path, ch, lock);
    }

    /** Writes this process's pid (pidfile_write). */
    public void write() throws IOException {
        channel.truncate(0);
        channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
        channel.force(false);
    }

    public Path path() {
        return path;
    }

    /** pidfile_remove: unlink, then unlock. */
    @Override
    public void close() {
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // best effort on exit
        }
        try {
            lock.release();
            channel.close();
        } catch (IOException ignored) {
            // best effort on exit
        }
    }
}
