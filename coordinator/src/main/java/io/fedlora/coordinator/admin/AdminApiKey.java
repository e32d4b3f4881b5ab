package io.fedlora.coordinator.admin;

import io.fedlora.coordinator.config.FedloraProperties;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.env.Environment;
import org.springframework.stereotype.Component;
import org.springframework.util.StringUtils;

/**
 * The admin API key: {@code fedlora.admin.api-key} or {@code FEDLORA_ADMIN_API_KEY} when set, otherwise
 * the content of {@code <data-dir>/admin-api-key}, generated (mode 0600) at first start. The key itself
 * is never logged, only where it is.
 */
@Component
public class AdminApiKey {

    public static final String FILE_NAME = "admin-api-key";
    private static final Logger log = LoggerFactory.getLogger(AdminApiKey.class);

    private final byte[] key;
    private final String source;

    public AdminApiKey(FedloraProperties properties, Environment env) {
        String configured = properties.admin() == null ? null : properties.admin().apiKey();
        if (!StringUtils.hasText(configured)) {
            configured = env.getProperty("FEDLORA_ADMIN_API_KEY");
        }
        if (StringUtils.hasText(configured)) {
            key = configured.strip().getBytes(StandardCharsets.UTF_8);
            source = "configuration (fedlora.admin.api-key / FEDLORA_ADMIN_API_KEY)";
        } else {
            Path file = properties.dataDir().resolve(FILE_NAME).toAbsolutePath();
            key = readOrCreate(file).getBytes(StandardCharsets.UTF_8);
            source = "file " + file;
        }
        log.info("admin API key from {}", source);
    }

    private static String readOrCreate(Path file) {
        try {
            if (Files.isRegularFile(file)) {
                String k = Files.readString(file).strip();
                if (!k.isEmpty()) {
                    return k;
                }
            }
            Files.createDirectories(file.getParent());
            byte[] b = new byte[32];
            new SecureRandom().nextBytes(b);
            String k = Base64.getUrlEncoder().withoutPadding().encodeToString(b);
            Path tmp = file.resolveSibling(FILE_NAME + ".tmp");
            Files.deleteIfExists(tmp);
            if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
                Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } else {
                Files.createFile(tmp);
            }
            Files.writeString(tmp, k + "\n");
            Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            log.info("generated an admin API key into {}", file);
            return k;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create the admin API key file " + file, e);
        }
    }

    /**
     * Constant-time comparison with a presented key: both sides are hashed first, so neither the content nor
     * the length of the key leaks through timing.
     */
    public boolean matches(String presented) {
        if (presented == null) {
            return false;
        }
        return MessageDigest.isEqual(sha256(key), sha256(presented.strip().getBytes(StandardCharsets.UTF_8)));
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /** Where the key comes from (for the startup log). */
    public String source() {
        return source;
    }
}
