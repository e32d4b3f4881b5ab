package io.fedlora.coordinator.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.fedlora.coordinator.clientapi.DecodedTensor;
import io.fedlora.proto.v1.DType;
import io.fedlora.proto.v1.TensorData;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TensorRole;
import io.fedlora.proto.v1.UpdateHeader;
import io.grpc.Status;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Chunk reassembly and its checks, without a network. */
class UploadAssemblerTest {

    private static final long LIMIT = 10_000;

    private final float[] a = {1f, -2f, 3.5f, 0.25f, 5f, 6f};        // 2 x 3
    private final float[] b = {0.5f, -0.5f, 1.5f, 2.5f};              // 4 x 1
    private final byte[] aBytes = le(a);
    private final byte[] bBytes = le(b);

    @Test
    void reassemblesInterleavedChunksAndDecodesToFp32() {
        UploadAssembler asm = UploadAssembler.forHeader(header(), LIMIT);
        asm.append(chunk(0, 0, Arrays.copyOfRange(aBytes, 0, 10)));
        asm.append(chunk(1, 0, bBytes));
        asm.append(chunk(0, 10, Arrays.copyOfRange(aBytes, 10, 24)));
        assertThat(asm.receivedBytes()).isEqualTo(40);

        Map<String, DecodedTensor> out = asm.finish(TestAgent.sha256(concat(aBytes, bBytes)));

        assertThat(out.keySet()).containsExactly("m.lora_A", "m.lora_B");
        assertThat(out.get("m.lora_A").values().shape()).containsExactly(2, 3);
        assertThat(out.get("m.lora_A").values().getFloat(1, 2)).isEqualTo(6f);
        assertThat(out.get("m.lora_B").values().dup().data().asFloat()).containsExactly(b);
        assertThat(out.get("m.lora_B").sha256()).isEqualTo(TestAgent.sha256(bBytes));
    }

    @Test
    void rejectsChunksThatDoNotFitTheHeader() {
        UploadAssembler asm = UploadAssembler.forHeader(header(), LIMIT);
        assertRejected(() -> asm.append(chunk(2, 0, bBytes)), "tensor_index", "tensor_index 2");
        assertRejected(() -> asm.append(chunk(-1, 0, bBytes)), "tensor_index", "tensor_index -1");
        assertRejected(() -> asm.append(chunk(0, 4, aBytes)), "offset", "starts at offset 4");
        assertRejected(() -> asm.append(chunk(1, 0, concat(bBytes, new byte[4]))), "overflow", "past its declared byte_size 16");
        assertRejected(() -> asm.append(chunk(0, 0, new byte[0])), "chunk", "empty chunk");
        assertRejected(() -> asm.append(chunk(0, 0, new byte[(1 << 20) + 1])), "chunk", "exceeds the 1 MiB chunk limit");
    }

    @Test
    void rejectsIncompleteAndCorruptedUploads() {
        UploadAssembler partial = UploadAssembler.forHeader(header(), LIMIT);
        partial.append(chunk(0, 0, aBytes));
        assertRejected(() -> partial.finish(TestAgent.sha256(concat(aBytes, bBytes))), "incomplete", "got 0 of its 16 bytes");

        UploadAssembler flipped = UploadAssembler.forHeader(header(), LIMIT);
        byte[] bad = aBytes.clone();
        bad[5] ^= 1;
        flipped.append(chunk(0, 0, bad));
        flipped.append(chunk(1, 0, bBytes));
        assertRejected(() -> flipped.finish(TestAgent.sha256(concat(aBytes, bBytes))), "checksum", "sha256 of tensor 'm.lora_A'");

        UploadAssembler wrongTotal = UploadAssembler.forHeader(header(), LIMIT);
        wrongTotal.append(chunk(0, 0, aBytes));
        wrongTotal.append(chunk(1, 0, bBytes));
        assertRejected(() -> wrongTotal.finish(TestAgent.sha256(concat(bBytes, aBytes))), "checksum", "upload sha256 is");
    }

    @Test
    void rejectsInconsistentHeaders() {
        assertRejected(() -> UploadAssembler.forHeader(header().toBuilder().clearTensors().build(), LIMIT),
                "header", "lists no tensors");
        assertRejected(() -> UploadAssembler.forHeader(header().toBuilder().setUploadId("").build(), LIMIT),
                "header", "no upload_id");
        assertRejected(() -> UploadAssembler.forHeader(header().toBuilder().setNumExamples(0).build(), LIMIT),
                "header", "num_examples must be positive");
        assertRejected(() -> UploadAssembler.forHeader(header().toBuilder().setTensors(1,
                header().getTensors(0)).build(), LIMIT), "header", "listed twice");
        assertRejected(() -> UploadAssembler.forHeader(header().toBuilder().setTensors(0,
                header().getTensors(0).toBuilder().setByteSize(25)).build(), LIMIT), "header", "declares byte_size 25");
        assertRejected(() -> UploadAssembler.forHeader(header().toBuilder().setTensors(0,
                header().getTensors(0).toBuilder().setShape(1, 0)).build(), LIMIT), "header", "non-positive dimension");
        assertRejected(() -> UploadAssembler.forHeader(header().toBuilder().setTensors(0,
                header().getTensors(0).toBuilder().setDtype(DType.U8)).build(), LIMIT), "header", "dtype U8");
        assertRejected(() -> UploadAssembler.forHeader(header().toBuilder().setTensors(0,
                header().getTensors(0).toBuilder().setSha256("abc")).build(), LIMIT), "header", "valid hex sha256");
        assertRejected(() -> UploadAssembler.forHeader(header().toBuilder().setTensors(0,
                header().getTensors(0).toBuilder().setRole(TensorRole.TENSOR_ROLE_UNSPECIFIED)).build(), LIMIT),
                "header", "no valid role");
        assertRejected(() -> UploadAssembler.forHeader(header().toBuilder().setTensors(0,
                header().getTensors(0).toBuilder().setLayoutValue(9)).build(), LIMIT), "header", "unknown weight layout");
    }

    @Test
    void enforcesTheSizeLimitOnDeclaredAndOverflowingShapes() {
        UploadRejectedException e = catchRejection(() -> UploadAssembler.forHeader(header(), 39));
        assertThat(e.code()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(e.reason()).isEqualTo("oversize");
        TensorMeta huge = header().getTensors(0).toBuilder().clearShape()
                .addShape(Long.MAX_VALUE / 2).addShape(4).setByteSize(0).build();
        assertThat(catchRejection(() -> UploadAssembler.forHeader(header().toBuilder().setTensors(0, huge).build(),
                LIMIT)).code()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(UploadAssembler.forHeader(header(), 40).specs()).hasSize(2);
    }

    private UpdateHeader header() {
        return UpdateHeader.newBuilder().setFederationId("f").setRound(1).setUploadId("u").setNumExamples(3)
                .addTensors(meta("m.lora_A", TensorRole.LORA_A, aBytes, 2, 3))
                .addTensors(meta("m.lora_B", TensorRole.LORA_B, bBytes, 4, 1))
                .build();
    }

    private static TensorMeta meta(String name, TensorRole role, byte[] bytes, long... shape) {
        TensorMeta.Builder m = TensorMeta.newBuilder().setName(name).setModule("m").setRole(role).setDtype(DType.F32)
                .setSha256(TestAgent.sha256(bytes)).setByteSize(bytes.length);
        for (long d : shape) {
            m.addShape(d);
        }
        return m.build();
    }

    private static TensorData chunk(int index, long offset, byte[] data) {
        return TensorData.newBuilder().setTensorIndex(index).setOffset(offset).setData(ByteString.copyFrom(data)).build();
    }

    private static byte[] le(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b.array();
    }

    private static byte[] concat(byte[] x, byte[] y) {
        byte[] out = Arrays.copyOf(x, x.length + y.length);
        System.arraycopy(y, 0, out, x.length, y.length);
        return out;
    }

    private static void assertRejected(Runnable r, String reason, String message) {
        UploadRejectedException e = catchRejection(r);
        assertThat(e.reason()).isEqualTo(reason);
        assertThat(e.getMessage()).contains(message);
    }

    private static UploadRejectedException catchRejection(Runnable r) {
        try {
            r.run();
        } catch (UploadRejectedException e) {
            return e;
        }
        throw new AssertionError("expected a rejection");
    }
}
