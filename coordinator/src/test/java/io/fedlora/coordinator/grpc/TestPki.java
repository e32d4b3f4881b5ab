package io.fedlora.coordinator.grpc;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A throw-away PKI for TLS tests, made with the JDK's {@code keytool}: a CA, a server certificate for
 * localhost/127.0.0.1, client certificates and a self-signed outsider, all as PEM files (certificate chain and PKCS#8 key)
 * the way an operator would configure them.
 */
final class TestPki {

    private static final String PASS = "test-only";

    private final Path dir;

    private TestPki(Path dir) {
        this.dir = dir;
    }

    /** Creates CA {@code ca} in {@code dir}. */
    static TestPki create(Path dir) throws IOException, InterruptedException, GeneralSecurityException {
        TestPki pki = new TestPki(Files.createDirectories(dir));
        pki.keypair("ca", "CN=fedlora test CA", "bc:c");
        Files.writeString(pki.caCert(), pem("CERTIFICATE", pki.load("ca").getCertificate("ca").getEncoded()));
        return pki;
    }

    /** A self-signed client certificate no CA of ours vouches for. Returns [cert, key]. */
    Path[] selfSigned(String name) throws IOException, InterruptedException, GeneralSecurityException {
        keypair(name, "CN=" + name, "eku=clientAuth");
        Path cert = dir.resolve(name + ".crt");
        Files.writeString(cert, pem("CERTIFICATE", load(name).getCertificate(name).getEncoded()));
        Path key = dir.resolve(name + ".key");
        Files.writeString(key, pem("PRIVATE KEY", privateKey(name).getEncoded()));
        return new Path[] {cert, key};
    }

    Path caCert() {
        return dir.resolve("ca.crt");
    }

    /** A certificate signed by this CA; {@code usage} is serverAuth or clientAuth. Returns [cert, key]. */
    Path[] issue(String name, String usage, String san) throws IOException, InterruptedException, GeneralSecurityException {
        keypair(name, "CN=" + name, null);
        Path csr = dir.resolve(name + ".csr");
        keytool("-certreq", "-alias", name, "-keystore", store(name).toString(), "-storepass", PASS,
                "-file", csr.toString());
        Path cert = dir.resolve(name + ".crt");
        List<String> args = new ArrayList<>(List.of("-gencert", "-rfc", "-alias", "ca", "-keystore",
                store("ca").toString(), "-storepass", PASS, "-infile", csr.toString(), "-outfile", cert.toString(),
                "-validity", "2", "-ext", "eku=" + usage));
        if (san != null) {
            args.addAll(List.of("-ext", "san=" + san));
        }
        keytool(args.toArray(String[]::new));
        Path key = dir.resolve(name + ".key");
        Files.writeString(key, pem("PRIVATE KEY", privateKey(name).getEncoded()));
        return new Path[] {cert, key};
    }

    private void keypair(String alias, String dname, String ext) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("-genkeypair", "-alias", alias, "-keyalg", "EC", "-groupname",
                "secp256r1", "-dname", dname, "-validity", "2", "-storetype", "PKCS12", "-keystore",
                store(alias).toString(), "-storepass", PASS));
        if (ext != null) {
            args.addAll(List.of("-ext", ext));
        }
        keytool(args.toArray(String[]::new));
    }

    private Key privateKey(String alias) throws IOException, GeneralSecurityException {
        return load(alias).getKey(alias, PASS.toCharArray());
    }

    private KeyStore load(String alias) throws IOException {
        try (InputStream in = Files.newInputStream(store(alias))) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, PASS.toCharArray());
            return ks;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot read test keystore " + store(alias), e);
        }
    }

    private Path store(String alias) {
        return dir.resolve(alias + ".p12");
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(der) + "\n-----END " + type + "-----\n";
    }

    private void keytool(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException("keytool " + args[0] + " failed: " + output);
        }
    }
}
