package io.fedlora.agent.data;

import java.nio.file.Path;

/** A JSONL line that cannot be used, with the file and 1-based line number in the message. */
public class DatasetFormatException extends RuntimeException {

    private final transient Path file;
    private final long line;

    public DatasetFormatException(Path file, long line, String problem) {
        super(file + ":" + line + ": " + problem);
        this.file = file;
        this.line = line;
    }

    public Path file() {
        return file;
    }

    public long line() {
        return line;
    }
}
