package org.rpctls.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A throwaway PKI made at test time with the openssl command (a real, independent tool):
 * a CA run through "openssl ca", so certificates can be expired, revoked and listed in a CRL.
 * Files are named as FreeBSD's daemons expect them: NAME.pem and NAMEkey.pem.
 */
public final class Pki {
    public final Path dir;
    public final Path caCert;
    private final Path caKey;
    private final Path config;

    /** What goes into one certificate. */
    public record Spec(String cn, List<String> subjectAltNames, String notBefore, String notAfter, boolean server, boolean client) {
        public static Spec server(String cn, String... san) {
            return new Spec(cn, List.of(san), null, null, true, false);
        }

        public static Spec client(String cn, String... san) {
            return new Spec(cn, List.of(san), null, null, false, true);
        }

        /** Validity in openssl ca's YYYYMMDDHHMMSSZ form. */
        public Spec valid(String from, String to) {
            return new Spec(cn, subjectAltNames, from, to, server, client);
        }
    }

    private Pki(Path dir, Path caCert, Path caKey, Path config) {
        this.dir = dir;
        this.caCert = caCert;
        this.caKey = caKey;
        this.config = config;
    }

    /** Creates a CA called {@code name} under {@code base}/{@code name}. */
    public static Pki create(Path base, String name) throws IOException, InterruptedException {
        Path dir = Files.createDirectories(base.resolve(name));
        Files.createDirectories(dir.resolve("newcerts"));
        Files.writeString(dir.resolve("index.txt"), "");
        Files.writeString(dir.resolve("serial"), "1000\n");
        Files.writeString(dir.resolve("crlnumber"), "1000\n");
        Path config = dir.resolve("ca.cnf");
        Files.writeString(config, """
                [ ca ]
                default_ca = CA_default
                [ CA_default ]
                dir = %s
                database = $dir/index.txt
                new_certs_dir = $dir/newcerts
                serial = $dir/serial
                crlnumber = $dir/crlnumber
                certificate = $dir/ca.pem
                private_key = $dir/cakey.pem
                default_md = sha256
                default_days = 30
                default_crl_days = 30
                policy = policy_any
                unique_subject = no
                copy_extensions = none
                [ policy_any ]
                commonName = supplied
                """.formatted(dir));
        Path caCert = dir.resolve("ca.pem");
        Path caKey = dir.resolve("cakey.pem");
        run(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", caKey.toString(), "-out", caCert.toString(), "-days", "30", "-subj", "/CN=" + name + " test CA",
                "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        return new Pki(dir, caCert, caKey, config);
    }

    public Path cert(String name) {
        return dir.resolve(name + ".pem");
    }

    public Path key(String name) {
        return dir.resolve(name + "key.pem");
    }

    /** Issues NAME.pem / NAMEkey.pem from this CA. */
    public Path issue(String name, Spec spec) throws IOException, InterruptedException {
        Path csr = dir.resolve(name + ".csr");
        run(dir, "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key(name).toString(), "-out", csr.toString(), "-subj", "/CN=" + spec.cn());
        Path ext = dir.resolve(name + ".ext");
        StringBuilder e = new StringBuilder("[ ext ]\nbasicConstraints = critical,CA:false\nkeyUsage = critical,digitalSignature\n");
        List<String> eku = new ArrayList<>();
        if (spec.server()) eku.add("serverAuth");
        if (spec.client()) eku.add("clientAuth");
        if (!eku.isEmpty()) e.append("extendedKeyUsage = ").append(String.join(",", eku)).append('\n');
        if (!spec.subjectAltNames().isEmpty()) e.append("subjectAltName = ").append(String.join(",", spec.subjectAltNames())).append('\n');
        Files.writeString(ext, e.toString());
        List<String> cmd = new ArrayList<>(List.of("openssl", "ca", "-batch", "-notext", "-config", config.toString(),
                "-in", csr.toString(), "-out", cert(name).toString(), "-extfile", ext.toString(), "-extensions", "ext"));
        if (spec.notBefore() != null) cmd.addAll(List.of("-startdate", spec.notBefore(), "-enddate", spec.notAfter()));
        run(dir, cmd.toArray(String[]::new));
        return cert(name);
    }

    /** A self-signed certificate (no CA at all), NAME.pem / NAMEkey.pem. */
    public Path selfSigned(String name, String cn, String... san) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", key(name).toString(), "-out", cert(name).toString(), "-days", "30", "-subj", "/CN=" + cn));
        if (san.length > 0) cmd.addAll(List.of("-addext", "subjectAltName=" + String.join(",", san)));
        run(dir, cmd.toArray(String[]::new));
        return cert(name);
    }

    public void revoke(String name) throws IOException, InterruptedException {
        run(dir, "openssl", "ca", "-batch", "-config", config.toString(), "-revoke", cert(name).toString());
    }

    /** Writes the CA's current CRL to {@code out}. */
    public Path crl(Path out) throws IOException, InterruptedException {
        run(dir, "openssl", "ca", "-batch", "-config", config.toString(), "-gencrl", "-out", out.toString());
        return out;
    }

    /** Copies NAME.pem / NAMEkey.pem to DIR/cert.pem and DIR/certkey.pem (a daemon's certificate directory). */
    public Path installAs(String name, Path certDir) throws IOException {
        Files.createDirectories(certDir);
        replace(cert(name), certDir.resolve("cert.pem"));
        replace(key(name), certDir.resolve("certkey.pem"));
        return certDir;
    }

    /**
     * Copies {@code from} over {@code to} by a rename, so that a reader (a daemon reloading, a
     * test's peer loading the same directory on another thread) sees the old file or the new
     * one, never a missing or half-written one: Files.copy(REPLACE_EXISTING) deletes first.
     */
    private static void replace(Path from, Path to) throws IOException {
        Path tmp = Files.createTempFile(to.getParent(), to.getFileName() + ".", ".tmp");
        try {
            Files.copy(from, tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, to, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    static void run(Path dir, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) throw new IOException(String.join(" ", cmd) + " failed:\n" + out);
    }
}
