package io.fedlora.coordinator.model;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.springframework.stereotype.Component;

/**
 * Copies a finished export file to the client. Its own bean so that the one step that can fail after the
 * response is committed (a read error, a dropped connection) has one place, and tests can make it fail there.
 */
@Component
public class ExportTransfer {

    /** Writes all of {@code file} to {@code out}; any failure throws, leaving the response short of its length. */
    public void send(Path file, OutputStream out) throws IOException {
        Files.copy(file, out);
    }
}
