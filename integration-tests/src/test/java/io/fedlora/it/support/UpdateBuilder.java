package io.fedlora.it.support;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;

import com.google.protobuf.ByteString;

import io.fedlora.proto.v1.DType;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.TensorData;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.UpdateChunk;
import io.fedlora.proto.v1.UpdateHeader;
import io.fedlora.proto.v1.UpdateTrailer;

/**
 * Builds the chunks of an UploadUpdate call for a TRAIN task: a well-formed F32 update by default,
 * with knobs that break exactly one thing (shape, values, checksum, chunk bytes, round).
 */
public final class UpdateBuilder {

    private final TaskResponse task;
    private final Map<String, float[]> values = new LinkedHashMap<>();
    private final Map<String, List<Long>> shapes = new LinkedHashMap<>();
    private int round;
    private String uploadId = UUID.randomUUID().toString();
    private String corruptSha256Of;
    private String garbageChunkOf;
    private boolean outOfRangeChunk;
    private boolean transposeFirst;
    private long numExamples = 10;

    /** A small random update (|values| ~ 0.01) with the shapes the task expects. */
    public UpdateBuilder(TaskResponse task, long seed) {
        this.task = task;
        this.round = task.getRound();
        Random random = new Random(seed);
        for (TensorMeta meta : task.getExpectedUpdateList()) {
            long n = meta.getShapeList().stream().mapToLong(Long::longValue).reduce(1, (a, b) -> a * b);
            float[] v = new float[(int) n];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (random.nextGaussian() * 0.01);
            }
            values.put(meta.getName(), v);
            shapes.put(meta.getName(), meta.getShapeList());
        }
    }

    public UpdateBuilder round(int r) {
        this.round = r;
        return this;
    }

    /** The example count the header declares. */
    public UpdateBuilder numExamples(long n) {
        this.numExamples = n;
        return this;
    }

    public UpdateBuilder uploadId(String id) {
        this.uploadId = id;
        return this;
    }

    /** Sets one element of the first tensor (e.g. NaN). */
    public UpdateBuilder firstValue(float v) {
        values.values().iterator().next()[0] = v;
        return this;
    }

    /** Multiplies every tensor by {@code factor} (to exceed the norm bound). */
    public UpdateBuilder scale(float factor) {
        for (float[] v : values.values()) {
            for (int i = 0; i < v.length; i++) {
                v[i] *= factor;
            }
        }
        return this;
    }

    /** Declares the first tensor with its dimensions swapped (same element count, wrong shape). */
    public UpdateBuilder transposeFirstShape() {
        this.transposeFirst = true;
        return this;
    }

    /** Declares a wrong sha256 for the first tensor. */
    public UpdateBuilder corruptFirstChecksum() {
        this.corruptSha256Of = values.keySet().iterator().next();
        return this;
    }

    /** Sends random bytes in place of the first tensor's data, with the checksums of the real data. */
    public UpdateBuilder garbageInFirstChunk() {
        this.garbageChunkOf = values.keySet().iterator().next();
        return this;
    }

    /** Adds a chunk naming a tensor index the header does not have. */
    public UpdateBuilder chunkForUnknownTensor() {
        this.outOfRangeChunk = true;
        return this;
    }

    /** The Frobenius norm of the largest tensor as built. */
    public double maxTensorNorm() {
        double max = 0;
        for (float[] v : values.values()) {
            double sum = 0;
            for (float x : v) {
                sum += (double) x * x;
            }
            max = Math.max(max, Math.sqrt(sum));
        }
        return max;
    }

    public List<UpdateChunk> chunks() {
        UpdateHeader.Builder header = UpdateHeader.newBuilder()
                .setFederationId(task.getFederationId())
                .setRound(round)
                .setUploadId(uploadId)
                .setNumExamples(numExamples)
                .setBaseModelVersion(task.getModelVersion())
                .putMetrics("train_loss", 1.0);
        List<byte[]> datas = new ArrayList<>();
        boolean first = true;
        for (TensorMeta expected : task.getExpectedUpdateList()) {
            String name = expected.getName();
            byte[] bytes = bytes(values.get(name));
            datas.add(bytes);
            List<Long> shape = shapes.get(name);
            if (first && transposeFirst) {
                shape = List.of(shape.get(1), shape.get(0));
            }
            first = false;
            header.addTensors(TensorMeta.newBuilder(expected)
                    .setDtype(DType.F32)
                    .clearShape().addAllShape(shape)
                    .setByteSize(bytes.length)
                    .setSha256(name.equals(corruptSha256Of) ? "0".repeat(64) : Hashes.sha256(bytes)));
        }
        List<UpdateChunk> chunks = new ArrayList<>();
        chunks.add(UpdateChunk.newBuilder().setHeader(header).build());
        int index = 0;
        for (String name : values.keySet()) {
            byte[] bytes = datas.get(index);
            if (name.equals(garbageChunkOf)) {
                bytes = new byte[bytes.length];
                new Random(7).nextBytes(bytes);
            }
            chunks.add(UpdateChunk.newBuilder().setData(TensorData.newBuilder()
                    .setTensorIndex(index).setOffset(0).setData(ByteString.copyFrom(bytes))).build());
            index++;
        }
        if (outOfRangeChunk) {
            chunks.add(UpdateChunk.newBuilder().setData(TensorData.newBuilder()
                    .setTensorIndex(values.size() + 5).setOffset(0).setData(ByteString.copyFrom(new byte[16]))).build());
        }
        chunks.add(UpdateChunk.newBuilder().setTrailer(UpdateTrailer.newBuilder()
                .setUploadSha256(Hashes.sha256(datas.toArray(new byte[0][])))).build());
        return chunks;
    }

    private static byte[] bytes(float[] v) {
        ByteBuffer buffer = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            buffer.putFloat(x);
        }
        return buffer.array();
    }
}
