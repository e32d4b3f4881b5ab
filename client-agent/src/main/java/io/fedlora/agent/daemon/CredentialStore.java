package io.fedlora.agent.daemon;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.agent.daemon.files.AtomicFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Keeps the per-client credential across restarts in {@code work-dir/credential.json}, readable by its
 * owner only. Enrolment tokens are single-use, so losing this file means asking the admin for a new token;
 * it is therefore written atomically (temp file, fsync, rename).
 */
public final class CredentialStore {

    static final String FILE_NAME = "credential.json";

    private final Path file;
    private final ObjectMapper json = new ObjectMapper();

    public CredentialStore(Path workDir) {
        this.file = workDir.resolve(FILE_NAME);
    }

    public Path file() {
        return file;
    }

    public Optional<StoredCredential> load() throws IOException {
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        try {
            return Optional.of(json.readValue(file.toFile(), StoredCredential.class));
        } catch (IOException | IllegalArgumentException e) {
            throw new IOException("credential file " + file + " is unreadable (" + e.getClass().getSimpleName()
                    + "); delete it and enrol again with a new token");
        }
    }

    public void save(StoredCredential credential) throws IOException {
        AtomicFiles.writeOwnerOnly(file, json.writerWithDefaultPrettyPrinter().writeValueAsBytes(credential));
    }
}
