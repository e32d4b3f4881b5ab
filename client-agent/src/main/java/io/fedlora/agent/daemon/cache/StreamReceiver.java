package io.fedlora.agent.daemon.cache;

import io.fedlora.proto.v1.DType;
import io.fedlora.proto.v1.ModelChunk;
import io.fedlora.proto.v1.ModelManifest;
import io.fedlora.proto.v1.TensorData;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TensorRole;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;

/**
 * Reads one DownloadModel stream: the manifest first, then data chunks in order within each tensor.
 * Each tensor's sha256 is computed while its bytes arrive and compared as soon as it is complete, so a
 * corrupt download is refused before anything reaches the cache.
 */
final class StreamReceiver {

    /** Largest single tensor the agent buffers (one Java array). */
    static final long MAX_TENSOR_BYTES = Integer.MAX_VALUE - 8;

    record Received(ModelManifest manifest, List<ReceivedTensor> tensors) {}

    private StreamReceiver() {}

    static Received receive(Iterator<ModelChunk> chunks, String federationId, long version) {
        if (!chunks.hasNext()) {
            throw new ModelIntegrityException("download of version " + version + " ended before its manifest");
        }
        ModelChunk first = chunks.next();
        if (!first.hasManifest()) {
            throw new ModelIntegrityException("download of version " + version + " did not start with a manifest");
        }
        ModelManifest manifest = first.getManifest();
        if (manifest.getModelVersion() != version || !manifest.getFederationId().equals(federationId)) {
            throw new ModelIntegrityException("asked for " + federationId + " v" + version + " but the manifest is for "
                    + manifest.getFederationId() + " v" + manifest.getModelVersion());
        }
        List<TensorMeta> metas = manifest.getTensorsList();
        int n = metas.size();
        byte[][] buffers = new byte[n][];
        int[] filled = new int[n];
        MessageDigest[] digests = new MessageDigest[n];
        for (int i = 0; i < n; i++) {
            TensorMeta m = metas.get(i);
            checkSize(m);
            buffers[i] = new byte[(int) m.getByteSize()];
            digests[i] = sha256();
        }
        int complete = 0;
        for (int i = 0; i < n; i++) {
            if (buffers[i].length == 0) {
                verify(metas.get(i), digests[i]);
                complete++;
            }
        }
        while (chunks.hasNext()) {
            ModelChunk chunk = chunks.next();
            if (!chunk.hasData()) {
                throw new ModelIntegrityException("a second manifest arrived in the download of version " + version);
            }
            TensorData data = chunk.getData();
            int idx = data.getTensorIndex();
            if (idx < 0 || idx >= n) {
                throw new ModelIntegrityException("chunk names tensor index " + idx + " but the manifest lists " + n);
            }
            TensorMeta meta = metas.get(idx);
            byte[] bytes = data.getData().toByteArray();
            if (data.getOffset() != filled[idx]) {
                throw new ModelIntegrityException("tensor " + meta.getName() + ": chunk at offset " + data.getOffset()
                        + " but " + filled[idx] + " bytes received so far");
            }
            if ((long) filled[idx] + bytes.length > buffers[idx].length) {
                throw new ModelIntegrityException("tensor " + meta.getName() + ": more bytes than its declared "
                        + meta.getByteSize());
            }
            System.arraycopy(bytes, 0, buffers[idx], filled[idx], bytes.length);
            digests[idx].update(bytes);
            filled[idx] += bytes.length;
            if (filled[idx] == buffers[idx].length && bytes.length > 0) {
                verify(meta, digests[idx]);
                complete++;
            }
        }
        if (complete != n) {
            for (int i = 0; i < n; i++) {
                if (filled[i] != buffers[i].length) {
                    throw new ModelIntegrityException("download ended with tensor " + metas.get(i).getName() + " at "
                            + filled[i] + " of " + buffers[i].length + " bytes");
                }
            }
        }
        List<ReceivedTensor> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(new ReceivedTensor(metas.get(i), buffers[i]));
        }
        return new Received(manifest, out);
    }

    private static void checkSize(TensorMeta m) {
        if (m.getByteSize() < 0 || m.getByteSize() > MAX_TENSOR_BYTES) {
            throw new ModelIntegrityException("tensor " + m.getName() + " declares " + m.getByteSize() + " bytes");
        }
        if (m.getRole() == TensorRole.FILE) {
            return;
        }
        long elements = 1;
        for (long d : m.getShapeList()) {
            if (d < 0) {
                throw new ModelIntegrityException("tensor " + m.getName() + " has a negative dimension");
            }
            elements = Math.multiplyExact(elements, d);
        }
        long expected = Math.multiplyExact(elements, elementSize(m.getDtype(), m.getName()));
        if (expected != m.getByteSize()) {
            throw new ModelIntegrityException("tensor " + m.getName() + " shape " + m.getShapeList() + " " + m.getDtype()
                    + " needs " + expected + " bytes but declares " + m.getByteSize());
        }
    }

    static int elementSize(DType dtype, String name) {
        return switch (dtype) {
            case F32 -> 4;
            case F16, BF16 -> 2;
            case F64 -> 8;
            case U8 -> 1;
            default -> throw new ModelIntegrityException("tensor " + name + " has unsupported dtype " + dtype);
        };
    }

    private static void verify(TensorMeta meta, MessageDigest digest) {
        String actual = HexFormat.of().formatHex(digest.digest());
        if (!actual.equalsIgnoreCase(meta.getSha256())) {
            throw new ModelIntegrityException("sha256 mismatch for tensor " + meta.getName() + ": manifest says "
                    + meta.getSha256() + ", received bytes hash to " + actual);
        }
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }
}
