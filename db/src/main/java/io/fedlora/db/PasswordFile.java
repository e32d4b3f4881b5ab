package io.fedlora.db;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * A generated database password kept in a file readable by the JVM's user only (0600). It is written to a
 * temporary name, fsynced and renamed, so a crash never leaves a truncated password that would lock the
 * coordinator out of its own database.
 */
final class PasswordFile {

    /** Names of password files start with this, so ownership changes of the data dir can leave them alone. */
    static final String PREFIX = "fedlora-secret-";

    private static final int RANDOM_BYTES = 24;

    private PasswordFile() {
    }

    static boolean isPasswordFile(Path file) {
        return file.getFileName().toString().startsWith(PREFIX);
    }

    static Path in(Path dir, String role) {
        return dir.resolve(PREFIX + role + ".password");
    }

    /** The password stored in {@code file}, if it exists. */
    static Optional<String> read(Path file) throws IOException {
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        String password = Files.readString(file, StandardCharsets.US_ASCII).strip();
        if (password.isEmpty()) {
            throw new IOException("password file " + file + " is empty; delete it to have a new password generated");
        }
        return Optional.of(password);
    }

    /** A fresh random password (URL-safe base64, so it never needs quoting in SQL or connection strings). */
    static String generate() {
        byte[] bytes = new byte[RANDOM_BYTES];
        new SecureRandom().nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** Writes {@code password} to {@code file} atomically and durably, mode 0600. */
    static void write(Path file, String password) throws IOException {
        Path temp = file.resolveSibling("." + file.getFileName() + "." + UUID.randomUUID());
        try (FileChannel channel = FileChannel.open(temp,
                Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
            channel.write(java.nio.ByteBuffer.wrap((password + "\n").getBytes(StandardCharsets.US_ASCII)));
            channel.force(true);
        } catch (IOException e) {
            Files.deleteIfExists(temp);
            throw e;
        }
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        }
    }
}
