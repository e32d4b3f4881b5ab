package io.fedlora.aggregation.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Reads a safetensors file. Only the header is parsed up front and fully validated (dtypes, shapes,
 * offsets in range, contiguous and non-overlapping, sizes matching shapes); tensor data is memory-mapped
 * per tensor on demand, so a multi-GB checkpoint is never read into one array.
 */
public final class SafetensorsReader implements AutoCloseable {

    /** Same cap as the reference implementation: a header larger than this is not a real header. */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsReader(Path file, FileChannel channel, long dataStart,
                              Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Opens and validates {@code file}; the caller closes the reader. */
    public static SafetensorsReader open(Path file) throws IOException {
        return open(file, true);
    }

    /**
     * As {@link #open(Path)}; with {@code followLinks} false a symbolic link at {@code file} is refused when opened
     * ({@code O_NOFOLLOW}), for files named by an untrusted request that were checked to be regular files.
     */
    public static SafetensorsReader open(Path file, boolean followLinks) throws IOException {
        FileChannel ch = followLinks ? FileChannel.open(file, StandardOpenOption.READ)
                : FileChannel.open(file, StandardOpenOption.READ, java.nio.file.LinkOption.NOFOLLOW_LINKS);
        try {
            long size = ch.size();
            if (size < 8) {
                throw new SafetensorsFormatException(file, null,
                        "file is " + size + " bytes, shorter than the 8-byte header length");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.flip().getLong();
            if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
                throw new SafetensorsFormatException(file, null, "header length " + headerLen + " is not plausible");
            }
            if (8 + headerLen > size) {
                throw new SafetensorsFormatException(file, null,
                        "header length " + headerLen + " runs past the end of the file (" + size + " bytes)");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            readFully(ch, header, 8);
            long dataStart = 8 + headerLen;
            Parsed parsed = parseHeader(file, new String(header.array(), StandardCharsets.UTF_8), size - dataStart);
            return new SafetensorsReader(file, ch, dataStart, parsed.tensors, parsed.metadata);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private record Parsed(Map<String, TensorInfo> tensors, Map<String, String> metadata) {
    }

    private static Parsed parseHeader(Path file, String json, long dataSize) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new SafetensorsFormatException(file, null, "header is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsFormatException(file, null, "header is not a JSON object");
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> fields = root.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> f = fields.next();
            String name = f.getKey();
            JsonNode node = f.getValue();
            if (name.equals("__metadata__")) {
                if (!node.isObject()) {
                    throw new SafetensorsFormatException(file, null, "__metadata__ is not an object");
                }
                node.fields().forEachRemaining(m -> {
                    if (!m.getValue().isTextual()) {
                        throw new SafetensorsFormatException(file, null,
                                "__metadata__ value for '" + m.getKey() + "' is not a string");
                    }
                    metadata.put(m.getKey(), m.getValue().asText());
                });
                continue;
            }
            tensors.put(name, parseTensor(file, name, node, dataSize));
        }
        checkLayout(file, tensors.values(), dataSize);
        return new Parsed(Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    private static TensorInfo parseTensor(Path file, String name, JsonNode node, long dataSize) {
        if (!node.isObject()) {
            throw new SafetensorsFormatException(file, name, "header entry is not an object");
        }
        JsonNode dt = node.get("dtype");
        if (dt == null || !dt.isTextual()) {
            throw new SafetensorsFormatException(file, name, "missing dtype");
        }
        DType dtype = DType.fromSafetensorsName(dt.asText());
        if (dtype == null) {
            throw new SafetensorsFormatException(file, name, "unknown dtype '" + dt.asText() + "'");
        }
        JsonNode sh = node.get("shape");
        if (sh == null || !sh.isArray()) {
            throw new SafetensorsFormatException(file, name, "missing shape");
        }
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.canConvertToLong() || !d.isIntegralNumber()) {
                throw new SafetensorsFormatException(file, name, "shape entry " + d + " is not an integer");
            }
            shape[i] = d.asLong();
            if (shape[i] < 0) {
                throw new SafetensorsFormatException(file, name, "negative dimension " + shape[i]);
            }
        }
        JsonNode off = node.get("data_offsets");
        if (off == null || !off.isArray() || off.size() != 2
                || !off.get(0).isIntegralNumber() || !off.get(1).isIntegralNumber()) {
            throw new SafetensorsFormatException(file, name, "data_offsets must be [begin, end]");
        }
        long begin = off.get(0).asLong();
        long end = off.get(1).asLong();
        if (begin < 0 || end < begin || end > dataSize) {
            throw new SafetensorsFormatException(file, name, "data_offsets [" + begin + ", " + end
                    + "] out of range for a data section of " + dataSize + " bytes");
        }
        TensorInfo info = new TensorInfo(name, dtype, shape, begin, end);
        long expected;
        try {
            expected = Math.multiplyExact(info.numElements(), (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new SafetensorsFormatException(file, name, "shape overflows", e);
        }
        if (expected != end - begin) {
            throw new SafetensorsFormatException(file, name, "shape " + java.util.Arrays.toString(shape) + " of "
                    + dtype + " needs " + expected + " bytes but data_offsets span " + (end - begin));
        }
        return info;
    }

    /** Tensors must tile the data section exactly: no overlap, no gap, no trailing bytes. */
    private static void checkLayout(Path file, java.util.Collection<TensorInfo> infos, long dataSize) {
        List<TensorInfo> sorted = new ArrayList<>(infos);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long cursor = 0;
        for (TensorInfo t : sorted) {
            if (t.begin() < cursor) {
                throw new SafetensorsFormatException(file, t.name(), "data overlaps the previous tensor (begins at "
                        + t.begin() + ", previous ends at " + cursor + ")");
            }
            if (t.begin() > cursor) {
                throw new SafetensorsFormatException(file, t.name(), "gap of " + (t.begin() - cursor)
                        + " bytes before this tensor's data");
            }
            cursor = t.end();
        }
        if (cursor != dataSize) {
            throw new SafetensorsFormatException(file, null, "data section has " + (dataSize - cursor)
                    + " bytes not covered by any tensor (file truncated or padded?)");
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
            pos += n;
        }
    }

    public Path file() {
        return file;
    }

    /** The tensors in header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** The header entry of {@code name}; fails naming the file if it is absent. */
    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new SafetensorsFormatException(file, name, "no such tensor");
        }
        return t;
    }

    /**
     * Where the bytes of {@code name} start in the file, for reading them with positional reads rather than
     * {@link #readRaw}'s mapping, which stays mapped (and resident) until the garbage collector frees it.
     */
    public long dataOffset(String name) {
        return dataStart + info(name).begin();
    }

    /**
     * The raw bytes of a tensor to be written elsewhere unchanged, copied from this reader's file by the kernel
     * ({@link FileChannel#transferTo}) when written: never mapped into this process, so copying a whole checkpoint
     * (an export, a sharded registration) adds nothing to its resident memory. Valid while this reader is open.
     */
    public TensorData rawData(String name) {
        TensorInfo t = info(name);
        return TensorData.region(name, t.dtype(), t.shape(), channel, dataStart + t.begin(), t.byteLength());
    }

    /**
     * Hands a tensor's raw bytes to {@code sink} in chunks of at most {@code chunkBytes}, read with positional reads
     * into one reused heap buffer (no mapping), e.g. to hash a tensor without making the file resident.
     */
    public void readChunks(String name, int chunkBytes, java.util.function.Consumer<ByteBuffer> sink) {
        TensorInfo t = info(name);
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(chunkBytes, Math.max(1, t.byteLength())));
        long pos = dataStart + t.begin();
        long end = dataStart + t.end();
        try {
            while (pos < end) {
                buf.clear().limit((int) Math.min(buf.capacity(), end - pos));
                readFully(channel, buf, pos);
                pos += buf.position();
                sink.accept(buf.flip());
            }
        } catch (IOException e) {
            throw new SafetensorsFormatException(file, name, "cannot read data: " + e.getMessage(), e);
        }
    }

    /** The raw little-endian bytes of a tensor, memory-mapped (read-only). */
    public ByteBuffer readRaw(String name) {
        TensorInfo t = info(name);
        requireOneBuffer(t);
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.begin(), t.byteLength())
                    .order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new SafetensorsFormatException(file, name, "cannot map data: " + e.getMessage(), e);
        }
    }

    /**
     * A floating-point tensor as an fp32 array of its shape (F64/F16/BF16 converted), read with positional reads (no
     * mapping: a mapping stays resident until a garbage collection unmaps it, and the coordinator reads every
     * round's target weights this way).
     */
    public INDArray readFloat(String name) {
        TensorInfo t = info(name);
        if (!t.dtype().isFloatingPoint()) {
            throw new SafetensorsFormatException(file, name, "dtype " + t.dtype() + " is not floating point");
        }
        return decode(t);
    }

    /** Any tensor in its memory type (floats as fp32, integers in their own width), read as {@link #readFloat} is. */
    public INDArray read(String name) {
        return decode(info(name));
    }

    private INDArray decode(TensorInfo t) {
        requireOneBuffer(t);
        INDArray out = TensorCodec.allocate(t.dtype(), t.shape());
        long[] next = {0};
        // chunks are whole elements: every read but the last fills the buffer, whose size is a multiple of 8
        readChunks(t.name(), DECODE_CHUNK_BYTES, chunk -> next[0] += TensorCodec.decodeInto(out, next[0], chunk, t.dtype()));
        return out;
    }

    private static final int DECODE_CHUNK_BYTES = 1 << 20;

    /** Java buffers and ND4J's NIO views index with ints: a tensor of more than 2 GiB cannot be one of them. */
    private void requireOneBuffer(TensorInfo t) {
        if (t.byteLength() > Integer.MAX_VALUE) {
            throw new SafetensorsFormatException(file, t.name(), "tensor of " + t.byteLength()
                    + " bytes is too large for one buffer");
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
