package org.rpctls.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What the benchmarks read about a process: /proc, jcmd (GC, NMT, malloc_info), and small process helpers. */
final class Probes {
    private Probes() {}

    /** {VmRSS, RssAnon} of {@code pid} in bytes. */
    static long[] procStatus(long pid) throws IOException {
        long rss = -1, anon = -1;
        for (String l : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
            if (l.startsWith("VmRSS:")) rss = kib(l);
            else if (l.startsWith("RssAnon:")) anon = kib(l);
        }
        return new long[] {rss, anon};
    }

    private static long kib(String statusLine) {
        String[] w = statusLine.trim().split("\\s+");
        return Long.parseLong(w[1]) * 1024;
    }

    /** utime + stime of {@code pid}, ms (clock ticks of 10 ms). */
    static long cpuMillis(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        // fields after the command: state(3) ... utime(14) stime(15): indices 11 and 12 here
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10;
    }

    /** The soft limit on open files of this process (-1 if unknown). */
    static long openFileLimit() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/limits"))) {
                if (l.startsWith("Max open files")) {
                    String[] w = l.substring("Max open files".length()).trim().split("\\s+");
                    return w[0].equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(w[0]);
                }
            }
        } catch (IOException e) {
            // not Linux
        }
        return -1;
    }

    static String cpuModel() {
        try {
            int cpus = Runtime.getRuntime().availableProcessors();
            for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (l.startsWith("model name")) return cpus + " x " + l.substring(l.indexOf(':') + 1).trim();
            }
            return cpus + " CPUs";
        } catch (IOException e) {
            return "unknown CPU";
        }
    }

    /** Runs jcmd of this JDK against {@code pid}; its output. */
    static String jcmd(long pid, String... command) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString());
        cmd.add(String.valueOf(pid));
        cmd.addAll(List.of(command));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new IOException(String.join(" ", cmd) + " failed:\n" + out);
        return out;
    }

    private static final Pattern NMT_TOTAL = Pattern.compile("Total: reserved=(\\d+)KB, committed=(\\d+)KB");
    private static final Pattern NMT_MALLOC = Pattern.compile("^\\s*malloc: (\\d+)KB", Pattern.MULTILINE);

    /** NMT's "Total:" reserved or committed, bytes. */
    static long nmtTotal(String summary, String which) {
        Matcher m = NMT_TOTAL.matcher(summary);
        if (!m.find()) throw new IllegalStateException("no NMT Total line (is -XX:NativeMemoryTracking=summary on?):\n" + summary);
        return Long.parseLong(m.group(which.equals("reserved") ? 1 : 2)) * 1024;
    }

    /** NMT's process-wide malloc line (the first "malloc:" line, under Total), bytes. */
    static long nmtMalloc(String summary) {
        Matcher m = NMT_MALLOC.matcher(summary);
        return m.find() ? Long.parseLong(m.group(1)) * 1024 : -1;
    }

    /** The "Total" bytes of a GC.class_histogram (live objects after the full GC it forces). */
    static long heapLive(String histogram) {
        for (String l : histogram.split("\n")) {
            String t = l.trim();
            if (t.startsWith("Total")) {
                String[] w = t.split("\\s+");
                return Long.parseLong(w[2]);
            }
        }
        return -1;
    }

    private static final Pattern XML_ATTR = Pattern.compile("<(total|system) type=\"(\\w+)\"(?: count=\"\\d+\")? size=\"(\\d+)\"/>");

    /**
     * Bytes handed out by glibc malloc, from malloc_info(3) as printed by jcmd
     * System.native_heap_info: the process-wide totals after the last heap: system "current"
     * (arena bytes from the OS) - free chunks ("fast" + "rest") + chunks in their own mmap.
     * What mallinfo2's uordblks + hblkhd would say. -1 if the output is not malloc_info's.
     */
    static long mallocInUse(String info) {
        int last = info.lastIndexOf("</heap>");
        if (last < 0) return -1;
        String tail = info.substring(last);
        long current = 0, free = 0, mmap = 0;
        Matcher m = XML_ATTR.matcher(tail);
        while (m.find()) {
            long size = Long.parseLong(m.group(3));
            switch (m.group(1) + " " + m.group(2)) {
                case "system current" -> current = size;
                case "total fast", "total rest" -> free += size;
                case "total mmap" -> mmap = size;
                default -> {}
            }
        }
        return current - free + mmap;
    }

    static void run(Path dir, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new IOException(String.join(" ", cmd) + " failed:\n" + out);
    }

    static void deleteTree(Path dir) {
        try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort: a temporary directory
        }
    }
}
