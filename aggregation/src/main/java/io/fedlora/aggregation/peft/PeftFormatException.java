package io.fedlora.aggregation.peft;

import java.nio.file.Path;

/** A PEFT adapter directory that cannot be used as it is; the message names the file and the key or field. */
public class PeftFormatException extends IllegalArgumentException {

    public PeftFormatException(Path file, String key, String problem) {
        super(file + (key == null ? "" : ": '" + key + "'") + ": " + problem);
    }
}
