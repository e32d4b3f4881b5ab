package io.fedlora.aggregation.safetensors;

import java.nio.file.Path;

/**
 * A safetensors file that is not what its header claims: raised instead of ever returning a silently
 * wrong tensor. The message always names the file and, where one is involved, the tensor.
 */
public class SafetensorsFormatException extends RuntimeException {

    private final transient Path file;
    private final String tensor;

    public SafetensorsFormatException(Path file, String tensor, String problem) {
        this(file, tensor, problem, null);
    }

    public SafetensorsFormatException(Path file, String tensor, String problem, Throwable cause) {
        super(describe(file, tensor, problem), cause);
        this.file = file;
        this.tensor = tensor;
    }

    private static String describe(Path file, String tensor, String problem) {
        String where = tensor == null ? "" : " tensor '" + tensor + "':";
        return "invalid safetensors file " + file + ":" + where + " " + problem;
    }

    /** The file at fault. */
    public Path file() {
        return file;
    }

    /** The tensor at fault, or {@code null} if the problem is in the file as a whole. */
    public String tensor() {
        return tensor;
    }
}
