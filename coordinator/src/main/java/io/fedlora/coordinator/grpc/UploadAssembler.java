package io.fedlora.coordinator.grpc;

import com.google.protobuf.ByteString;
import io.fedlora.aggregation.lora.OffHeap;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import io.fedlora.coordinator.clientapi.DecodedTensor;
import io.fedlora.coordinator.clientapi.TensorSpec;
import io.fedlora.proto.v1.TensorData;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.UpdateHeader;
import io.grpc.Status;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Reassembles the tensors of one upload from its TensorData chunks and checks them before anything is
 * decoded: the header's declared sizes must be consistent and within the upload limit, each chunk must
 * name a declared tensor, continue it exactly where the previous chunk ended and not run past its
 * declared size; at the end every tensor must be complete and match its sha256, and all bytes together
 * the upload's sha256. Memory grows with the bytes actually received, never with what a header claims.
 */
public final class UploadAssembler {

    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-fA-F]{64}");
    private static final HexFormat HEX = HexFormat.of();

    private final List<TensorSpec> specs;
    private final List<Slot> slots;
    private final long maxBytes;
    private long received;

    private UploadAssembler(List<TensorSpec> specs, List<Slot> slots, long maxBytes) {
        this.specs = specs;
        this.slots = slots;
        this.maxBytes = maxBytes;
    }

    /**
     * Validates the header's tensor list against the transport's rules (unique names, float dtypes,
     * positive dimensions, {@code byte_size} = elements x dtype width, well-formed sha256, total within
     * {@code maxBytes}) and prepares empty buffers.
     */
    public static UploadAssembler forHeader(UpdateHeader header, long maxBytes) {
        if (header.getTensorsCount() == 0) {
            throw UploadRejectedException.invalid("header", "upload header lists no tensors");
        }
        if (header.getUploadId().isBlank()) {
            throw UploadRejectedException.invalid("header", "upload header has no upload_id");
        }
        if (header.getNumExamples() <= 0) {
            throw UploadRejectedException.invalid("header", "num_examples must be positive, got " + header.getNumExamples());
        }
        List<TensorSpec> specs = new ArrayList<>();
        List<Slot> slots = new ArrayList<>();
        Set<String> names = new HashSet<>();
        long total = 0;
        for (TensorMeta meta : header.getTensorsList()) {
            String name = meta.getName();
            if (name.isBlank()) {
                throw UploadRejectedException.invalid("header", "a tensor in the upload header has no name");
            }
            if (!names.add(name)) {
                throw UploadRejectedException.invalid("header", "tensor '" + name + "' is listed twice");
            }
            TensorSpec spec = ProtoMapping.toSpec(meta);
            if (!spec.dtype().isFloatingPoint()) {
                throw UploadRejectedException.invalid("header",
                        "tensor '" + name + "' has dtype " + spec.dtype() + "; updates are F32, F16, BF16 or F64");
            }
            long expected = byteSize(spec);
            if (expected > Integer.MAX_VALUE - 8 || expected > maxBytes - total) {
                throw new UploadRejectedException("oversize", Status.Code.RESOURCE_EXHAUSTED,
                        "upload declares more than the limit of " + maxBytes + " bytes");
            }
            if (meta.getByteSize() != expected) {
                throw UploadRejectedException.invalid("header", "tensor '" + name + "' declares byte_size "
                        + meta.getByteSize() + " but shape " + Arrays.toString(spec.shape()) + " of "
                        + spec.dtype() + " holds " + expected + " bytes");
            }
            if (!SHA256_HEX.matcher(meta.getSha256()).matches()) {
                throw UploadRejectedException.invalid("header", "tensor '" + name + "' has no valid hex sha256");
            }
            total += expected;
            specs.add(spec);
            slots.add(new Slot(name, meta.getSha256().toLowerCase(Locale.ROOT), (int) expected));
        }
        return new UploadAssembler(List.copyOf(specs), List.copyOf(slots), maxBytes);
    }

    /** The tensors as the header declared them, in header order. */
    public List<TensorSpec> specs() {
        return specs;
    }

    /** Bytes of tensor data received so far. */
    public long receivedBytes() {
        return received;
    }

    /** Appends one chunk after checking its index, offset and size. */
    public void append(TensorData chunk) {
        int index = chunk.getTensorIndex();
        if (index < 0 || index >= slots.size()) {
            throw UploadRejectedException.invalid("tensor_index",
                    "chunk names tensor_index " + index + " but the header lists " + slots.size() + " tensors");
        }
        Slot slot = slots.get(index);
        ByteString data = chunk.getData();
        if (data.isEmpty()) {
            throw UploadRejectedException.invalid("chunk", "empty chunk for tensor '" + slot.name + "'");
        }
        if (data.size() > GrpcTransportProperties.MAX_CHUNK_BYTES) {
            throw UploadRejectedException.invalid("chunk", "chunk of " + data.size() + " bytes for tensor '"
                    + slot.name + "' exceeds the 1 MiB chunk limit");
        }
        if (chunk.getOffset() != slot.filled) {
            throw UploadRejectedException.invalid("offset", "chunk for tensor '" + slot.name + "' starts at offset "
                    + chunk.getOffset() + " but " + slot.filled + " bytes were received; chunks must be contiguous");
        }
        if (data.size() > slot.size - slot.filled) {
            throw UploadRejectedException.invalid("overflow", "chunk for tensor '" + slot.name + "' runs to byte "
                    + (slot.filled + (long) data.size()) + " past its declared byte_size " + slot.size);
        }
        if (received + data.size() > maxBytes) {
            throw new UploadRejectedException("oversize", Status.Code.RESOURCE_EXHAUSTED,
                    "upload exceeds the limit of " + maxBytes + " bytes");
        }
        slot.append(data);
        received += data.size();
    }

    /**
     * Checks completeness and checksums against the trailer and decodes every tensor to fp32.
     * The returned map is keyed by tensor name, in header order.
     */
    public Map<String, DecodedTensor> finish(String uploadSha256) {
        MessageDigest whole = sha256();
        for (Slot slot : slots) {
            if (slot.filled != slot.size) {
                throw UploadRejectedException.invalid("incomplete", "tensor '" + slot.name + "' got " + slot.filled
                        + " of its " + slot.size + " bytes before the trailer");
            }
            MessageDigest one = sha256();
            one.update(slot.bytes());
            String actual = HEX.formatHex(one.digest());
            if (!actual.equals(slot.sha256)) {
                throw UploadRejectedException.invalid("checksum", "sha256 of tensor '" + slot.name + "' is " + actual
                        + " but the header declares " + slot.sha256);
            }
            whole.update(slot.bytes());
        }
        String actualUpload = HEX.formatHex(whole.digest());
        if (!actualUpload.equalsIgnoreCase(uploadSha256)) {
            throw UploadRejectedException.invalid("checksum", "upload sha256 is " + actualUpload
                    + " but the trailer declares '" + uploadSha256 + "'");
        }
        Map<String, DecodedTensor> out = new LinkedHashMap<>();
        for (int i = 0; i < slots.size(); i++) {
            Slot slot = slots.get(i);
            TensorSpec spec = specs.get(i);
            ByteBuffer bytes = slot.bytes().order(ByteOrder.LITTLE_ENDIAN);
            out.put(spec.name(), new DecodedTensor(spec, slot.sha256,
                    SafetensorsWriter.fromBytes(bytes, spec.dtype(), spec.shape())));
            slot.free();
        }
        return out;
    }

    private static long byteSize(TensorSpec spec) {
        if (spec.shape().length == 0) {
            throw UploadRejectedException.invalid("header", "tensor '" + spec.name() + "' has no shape");
        }
        long n = spec.dtype().byteSize();
        for (long d : spec.shape()) {
            if (d <= 0) {
                throw UploadRejectedException.invalid("header",
                        "tensor '" + spec.name() + "' has a non-positive dimension in " + Arrays.toString(spec.shape()));
            }
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                throw new UploadRejectedException("oversize", Status.Code.RESOURCE_EXHAUSTED,
                        "tensor '" + spec.name() + "' shape " + Arrays.toString(spec.shape()) + " overflows");
            }
        }
        return n;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every Java platform", e);
        }
    }

    /**
     * Frees the bytes received so far now, for an upload that ends without {@link #finish} (broken off or refused).
     * Idempotent.
     */
    public void discard() {
        slots.forEach(Slot::free);
    }

    /**
     * One tensor's bytes so far, off the Java heap; the buffer grows geometrically up to the declared size. On the
     * heap, each upload in flight held its ~1 MB (GPT-2 {@code c_attn}) across young collections, so part of it was
     * promoted with every collection and the old generation grew with the number of uploads, not with the uploads in
     * flight. Freed explicitly once decoded or when the upload ends.
     */
    private static final class Slot {
        final String name;
        final String sha256;
        final int size;
        INDArray memory;
        ByteBuffer buffer = ByteBuffer.allocate(0);
        int filled;

        Slot(String name, String sha256, int size) {
            this.name = name;
            this.sha256 = sha256;
            this.size = size;
        }

        void append(ByteString data) {
            int needed = filled + data.size();
            if (needed > buffer.capacity()) {
                int grown = (int) Math.min(size, Math.max((long) needed, 2L * buffer.capacity()));
                INDArray larger = Nd4j.createUninitialized(DataType.BYTE, grown);
                ByteBuffer view = larger.data().asNio();
                view.put(buffer.duplicate().position(0).limit(filled));
                free();
                memory = larger;
                buffer = view;
            }
            data.copyTo(buffer.duplicate().position(filled));
            filled = needed;
        }

        /** The bytes received, a read-only view valid until {@link #free}. */
        ByteBuffer bytes() {
            return buffer.asReadOnlyBuffer().position(0).limit(filled).slice();
        }

        void free() {
            if (memory != null) {
                OffHeap.release(memory);
                memory = null;
            }
            buffer = ByteBuffer.allocate(0);
        }
    }
}
