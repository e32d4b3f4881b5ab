package io.fedlora.aggregation.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Writes safetensors files durably: data goes to a temp file in the target directory, is fsynced,
 * atomically renamed over the target, and the directory is fsynced, so a crash leaves either the old
 * file or the complete new one. Tensor data is streamed in chunks, never assembled in one array.
 */
public final class SafetensorsWriter {

    private static final ObjectMapper JSON = new ObjectMapper();

    private SafetensorsWriter() {
    }

    /** Writes all {@code tensors} (in map order) as {@code dtype}. */
    public static void write(Path file, Map<String, INDArray> tensors, Map<String, String> metadata, DType dtype)
            throws IOException {
        List<TensorData> list = new ArrayList<>();
        tensors.forEach((name, array) -> list.add(TensorData.of(name, array, dtype)));
        write(file, list, metadata);
    }

    /** Writes tensors that may each have their own dtype, or be raw bytes copied through. */
    public static void write(Path file, List<TensorData> tensors, Map<String, String> metadata) throws IOException {
        byte[] header = header(tensors, metadata);
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).flip();
                writeFully(ch, len);
                writeFully(ch, ByteBuffer.wrap(header));
                for (TensorData t : tensors) {
                    long before = ch.position();
                    t.writeTo(ch);
                    if (ch.position() - before != t.byteLength()) {
                        throw new IOException("tensor '" + t.name() + "' wrote " + (ch.position() - before)
                                + " bytes, expected " + t.byteLength());
                    }
                }
                ch.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        fsyncDirectory(dir);
    }

    /** Flushes a directory entry change (rename) to disk; a no-op where the OS cannot open directories. */
    public static void fsyncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            // Windows and some file systems refuse to open a directory; the rename itself is still atomic.
        }
    }

    /** The JSON header padded with spaces to a multiple of 8 bytes, as the reference writer does. */
    static byte[] header(List<TensorData> tensors, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = root.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        Set<String> seen = new HashSet<>();
        long offset = 0;
        for (TensorData t : tensors) {
            if (t.name().equals("__metadata__") || !seen.add(t.name())) {
                throw new IllegalArgumentException("duplicate or reserved tensor name '" + t.name() + "'");
            }
            ObjectNode e = root.putObject(t.name());
            e.put("dtype", t.dtype().safetensorsName());
            ArrayNode shape = e.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            long end = offset + t.byteLength();
            e.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = new byte[padded];
        System.arraycopy(json, 0, out, 0, json.length);
        for (int i = json.length; i < padded; i++) {
            out[i] = ' ';
        }
        return out;
    }

    /** One tensor's data as little-endian {@code dtype} bytes (c order), e.g. for the wire. */
    public static byte[] toBytes(INDArray array, DType dtype) {
        ByteArrayOutputStream bos = new ByteArrayOutputStream((int) Math.min(Integer.MAX_VALUE - 8,
                TensorCodec.byteLength(array, dtype)));
        try {
            TensorCodec.encode(array, dtype, Channels.newChannel(bos));
        } catch (IOException e) {
            throw new IllegalStateException("in-memory write failed", e);
        }
        return bos.toByteArray();
    }

    /** Inverse of {@link #toBytes}: floats come back as fp32, integers in their own width. */
    public static INDArray fromBytes(ByteBuffer bytes, DType dtype, long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + java.util.Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        if (n * dtype.byteSize() != bytes.remaining()) {
            throw new IllegalArgumentException(bytes.remaining() + " bytes do not hold shape "
                    + java.util.Arrays.toString(shape) + " of " + dtype);
        }
        return TensorCodec.decode(bytes, dtype, shape);
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
