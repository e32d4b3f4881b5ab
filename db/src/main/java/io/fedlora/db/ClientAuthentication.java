package io.fedlora.db;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The embedded server's {@code pg_hba.conf}, rewritten before every start so a data directory made by an older
 * fedlora (which trusted loopback) or edited by hand cannot keep password-less access: TCP from 127.0.0.1 with
 * scram-sha-256 is the only way in. There is no {@code local} line because the server opens no Unix socket.
 */
final class ClientAuthentication {

    static final String FILE_NAME = "pg_hba.conf";

    static final String CONTENT = """
            # Written by fedlora at every start of the embedded PostgreSQL; edits are overwritten.
            # Only TCP from loopback, only with a password (scram-sha-256); no trust, no Unix socket.
            # TYPE  DATABASE  USER  ADDRESS       METHOD
            host    all       all   127.0.0.1/32  scram-sha-256
            """;

    private ClientAuthentication() {
    }

    /** Replaces {@code dataDir/pg_hba.conf} (atomically; keeping the server user's ownership of the file). */
    static void write(Path dataDir, ProcessIdentity identity) throws IOException {
        Path file = dataDir.resolve(FILE_NAME);
        if (Files.exists(file) && Files.readString(file, StandardCharsets.UTF_8).equals(CONTENT)) {
            return;
        }
        Path temp = dataDir.resolve("." + FILE_NAME + ".new");
        Files.writeString(temp, CONTENT, StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(temp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        identity.takeOwnership(temp, f -> false);
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
