package io.fedlora.agent.daemon.cache;

import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TensorRole;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Writes a version's cache entry from a verified download: a full state as sent, or a delta applied on top of
 * the version it was built from. BASE replaces a weight, RESIDUAL_DENSE adds to it, a RESIDUAL_U/V pair is
 * folded in with one GEMM, LORA_A/B become the global adapter, FILE entries become files.
 */
final class VersionBuilder {

    private static final Pattern SAFE_FILE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final Set<String> RESERVED = Set.of(
            CachedVersion.MODEL_FILE, CachedVersion.ADAPTER_FILE, CachedVersion.VERSION_FILE);

    private VersionBuilder() {}

    /** Fills {@code staging} with the new version; {@code previous} is required when the download is a delta. */
    static void build(List<ReceivedTensor> tensors, CachedVersion previous, Path staging) throws IOException {
        boolean touchesBase = tensors.stream().map(t -> t.meta().getRole()).anyMatch(r ->
                r == TensorRole.BASE || r == TensorRole.RESIDUAL_DENSE || r == TensorRole.RESIDUAL_U || r == TensorRole.RESIDUAL_V);
        boolean touchesAdapter = tensors.stream().map(t -> t.meta().getRole())
                .anyMatch(r -> r == TensorRole.LORA_A || r == TensorRole.LORA_B);

        if (previous != null) {
            copyAuxiliaryFiles(previous.dir(), staging);
        }
        for (ReceivedTensor t : tensors) {
            if (t.meta().getRole() == TensorRole.FILE) {
                writeAuxiliaryFile(staging, t);
            }
        }

        if (touchesBase || previous == null) {
            Map<String, INDArray> weights = previous == null ? new LinkedHashMap<>() : readAll(previous.modelFile());
            applyToBase(tensors, weights);
            if (weights.isEmpty()) {
                throw new ModelIntegrityException("a full model state without any BASE tensor");
            }
            SafetensorsWriter.write(staging.resolve(CachedVersion.MODEL_FILE), weights, Map.of("format", "pt"), DType.F32);
        } else {
            linkOrCopy(previous.modelFile(), staging.resolve(CachedVersion.MODEL_FILE));
        }

        if (touchesAdapter) {
            Map<String, INDArray> adapter = previous == null || !Files.exists(previous.adapterFile())
                    ? new LinkedHashMap<>() : readAll(previous.adapterFile());
            for (ReceivedTensor t : tensors) {
                TensorRole role = t.meta().getRole();
                if (role == TensorRole.LORA_A || role == TensorRole.LORA_B) {
                    String module = moduleOf(t.meta());
                    adapter.put(role == TensorRole.LORA_A ? AdapterKeys.a(module) : AdapterKeys.b(module), decode(t));
                }
            }
            SafetensorsWriter.write(staging.resolve(CachedVersion.ADAPTER_FILE), adapter, Map.of(), DType.F32);
        } else if (previous != null && Files.exists(previous.adapterFile())) {
            linkOrCopy(previous.adapterFile(), staging.resolve(CachedVersion.ADAPTER_FILE));
        }
    }

    private static void applyToBase(List<ReceivedTensor> tensors, Map<String, INDArray> weights) {
        Map<String, ReceivedTensor> us = new HashMap<>();
        Map<String, ReceivedTensor> vs = new HashMap<>();
        for (ReceivedTensor t : tensors) {
            TensorMeta m = t.meta();
            switch (m.getRole()) {
                case BASE -> weights.put(m.getName(), decode(t));
                case RESIDUAL_DENSE -> {
                    layout(m);
                    INDArray w = target(weights, m);
                    INDArray r = decode(t);
                    if (!Arrays.equals(w.shape(), r.shape())) {
                        throw new ModelIntegrityException("dense residual " + m.getName() + " shape "
                                + Arrays.toString(r.shape()) + " does not match " + m.getTarget() + " "
                                + Arrays.toString(w.shape()));
                    }
                    w.addi(r);
                }
                case RESIDUAL_U -> us.put(m.getTarget(), t);
                case RESIDUAL_V -> vs.put(m.getTarget(), t);
                default -> { }
            }
        }
        if (!us.keySet().equals(vs.keySet())) {
            throw new ModelIntegrityException("residual factors come unpaired: U for " + us.keySet() + ", V for " + vs.keySet());
        }
        for (Map.Entry<String, ReceivedTensor> e : us.entrySet()) {
            TensorMeta um = e.getValue().meta();
            ReceivedTensor v = vs.get(e.getKey());
            if (um.getScale() != v.meta().getScale() || layout(um) != layout(v.meta())) {
                throw new ModelIntegrityException("residual U and V for " + e.getKey() + " disagree on scale or layout");
            }
            ResidualFold.fold(target(weights, um), decode(e.getValue()), decode(v), um.getScale(), layout(um));
        }
    }

    /** The layout a residual is folded in: the coordinator must state it (a fold cannot guess it from a square weight). */
    static WeightLayout layout(TensorMeta m) {
        return switch (m.getLayout()) {
            case WEIGHT_LAYOUT_LINEAR -> WeightLayout.LINEAR;
            case WEIGHT_LAYOUT_CONV1D -> WeightLayout.CONV1D;
            default -> throw new ModelIntegrityException("residual " + m.getName() + " for " + m.getTarget()
                    + " names no weight layout (" + m.getLayout() + "); the coordinator must state it");
        };
    }

    /**
     * The base tensor a residual is added to, by the exact key the coordinator names: it sends base tensors under the
     * same keys (the family's optional body prefix already removed), so no prefix is guessed here.
     */
    private static INDArray target(Map<String, INDArray> weights, TensorMeta m) {
        INDArray w = weights.get(m.getTarget());
        if (w == null) {
            throw new ModelIntegrityException("residual " + m.getName() + " targets " + m.getTarget()
                    + ", which the model does not have");
        }
        return w;
    }

    private static String moduleOf(TensorMeta m) {
        return m.getModule().isEmpty() ? AdapterKeys.moduleOf(m.getName()) : m.getModule();
    }

    static INDArray decode(ReceivedTensor t) {
        TensorMeta m = t.meta();
        long[] shape = m.getShapeList().stream().mapToLong(Long::longValue).toArray();
        ByteBuffer buf = ByteBuffer.wrap(t.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        INDArray decoded = SafetensorsWriter.fromBytes(buf, dtype(m), shape);
        return decoded.castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT);
    }

    static DType dtype(TensorMeta m) {
        return switch (m.getDtype()) {
            case F32 -> DType.F32;
            case F16 -> DType.F16;
            case BF16 -> DType.BF16;
            case F64 -> DType.F64;
            default -> throw new ModelIntegrityException("tensor " + m.getName() + " has non-float dtype " + m.getDtype());
        };
    }

    private static Map<String, INDArray> readAll(Path file) throws IOException {
        Map<String, INDArray> out = new LinkedHashMap<>();
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            for (String name : reader.tensors().keySet()) {
                // dup: residuals are added in place and must never touch a mapped file
                out.put(name, reader.readFloat(name).dup());
            }
        }
        return out;
    }

    private static void writeAuxiliaryFile(Path staging, ReceivedTensor t) throws IOException {
        String name = t.meta().getName();
        if (!SAFE_FILE.matcher(name).matches() || RESERVED.contains(name)) {
            throw new ModelIntegrityException("refusing auxiliary file name " + name + " (plain file names only)");
        }
        Path target = staging.resolve(name);
        // the previous version's copy may be a hard link: replace it, never write through it
        Files.deleteIfExists(target);
        Files.write(target, t.bytes());
    }

    private static void copyAuxiliaryFiles(Path from, Path to) throws IOException {
        try (var files = Files.list(from)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String name = f.getFileName().toString();
                if (Files.isRegularFile(f) && !RESERVED.contains(name)) {
                    linkOrCopy(f, to.resolve(name));
                }
            }
        }
    }

    /** Cache entries are immutable, so a hard link is as good as a copy and costs no disk space. */
    private static void linkOrCopy(Path from, Path to) throws IOException {
        try {
            Files.createLink(to, from);
        } catch (UnsupportedOperationException | IOException e) {
            Files.copy(from, to, StandardCopyOption.COPY_ATTRIBUTES);
        }
    }
}
