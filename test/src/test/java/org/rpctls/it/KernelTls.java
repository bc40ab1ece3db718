package org.rpctls.it;

import java.nio.file.Files;
import java.nio.file.Path;

/** Whether the running kernel can do kTLS at all (the "tls" TCP ULP is registered). */
final class KernelTls {
    private KernelTls() {}

    static boolean available() {
        try {
            return Files.readString(Path.of("/proc/sys/net/ipv4/tcp_available_ulp")).contains("tls");
        } catch (Exception e) {
            return false;
        }
    }
}
