package io.fedlora.coordinator.gateway;

import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.coordinator.clientapi.ClientApiException;
import io.fedlora.coordinator.clientapi.ClientApiException.Kind;
import io.fedlora.coordinator.clientapi.DecodedTensor;
import io.fedlora.coordinator.clientapi.TensorRole;
import io.fedlora.coordinator.clientapi.TensorSpec;
import io.fedlora.coordinator.model.LayerShape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The shape of a valid update (one fp32 {@code lora_A}, {@code lora_B} pair per LoRA layer) and the
 * checks on its header and values, each failing with a reason an agent operator can act on.
 */
final class UploadRules {

    /** A refusal with a short metric tag beside the human-readable reason. */
    static final class Rejection extends ClientApiException {
        private final String tag;

        Rejection(Kind kind, String tag, String message) {
            super(kind, message);
            this.tag = tag;
        }

        String tag() {
            return tag;
        }
    }

    private UploadRules() {
    }

    static List<TensorSpec> expected(List<LayerShape> layers, int rank) {
        List<TensorSpec> out = new ArrayList<>();
        for (LayerShape l : layers) {
            out.add(new TensorSpec(l.loraA(), l.module(), TensorRole.LORA_A, DType.F32, new long[] {rank, l.dIn()}, l.layout()));
            out.add(new TensorSpec(l.loraB(), l.module(), TensorRole.LORA_B, DType.F32, new long[] {l.dOut(), rank}, l.layout()));
        }
        return out;
    }

    /** Names, roles, dtypes and shapes declared in a header against the expected list. */
    static void checkDeclared(List<TensorSpec> declared, List<TensorSpec> expected) {
        Map<String, TensorSpec> want = new LinkedHashMap<>();
        expected.forEach(t -> want.put(t.name(), t));
        Map<String, TensorSpec> got = new LinkedHashMap<>();
        for (TensorSpec t : declared) {
            if (got.put(t.name(), t) != null) {
                throw new Rejection(Kind.INVALID_ARGUMENT, "tensor_mismatch", "tensor '" + t.name() + "' is declared twice");
            }
            TensorSpec w = want.get(t.name());
            if (w == null) {
                throw new Rejection(Kind.INVALID_ARGUMENT, "tensor_mismatch", "unexpected tensor '" + t.name()
                        + "'; this round expects " + want.keySet());
            }
            checkSpec(t, w);
        }
        for (String name : want.keySet()) {
            if (!got.containsKey(name)) {
                throw new Rejection(Kind.INVALID_ARGUMENT, "tensor_mismatch", "missing tensor '" + name + "'");
            }
        }
    }

    private static void checkSpec(TensorSpec t, TensorSpec w) {
        if (t.role() != null && t.role() != w.role()) {
            throw new Rejection(Kind.INVALID_ARGUMENT, "tensor_mismatch", "tensor '" + t.name() + "' has role " + t.role()
                    + ", expected " + w.role());
        }
        if (t.dtype() != w.dtype()) {
            throw new Rejection(Kind.INVALID_ARGUMENT, "tensor_mismatch", "tensor '" + t.name() + "' has dtype " + t.dtype()
                    + ", expected " + w.dtype());
        }
        if (!Arrays.equals(t.shape(), w.shape())) {
            throw new Rejection(Kind.INVALID_ARGUMENT, "tensor_mismatch", "tensor '" + t.name() + "' has shape "
                    + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(w.shape()));
        }
        checkLayout(t, w);
    }

    /**
     * The layout the agent's own model family gives the module must be the federation model's: factors trained
     * against a transposed view of a weight fit its shapes (always, for a square one) yet describe another model.
     */
    private static void checkLayout(TensorSpec t, TensorSpec w) {
        if (w.layout() == null) {
            return;
        }
        if (t.layout() == null) {
            throw new Rejection(Kind.INVALID_ARGUMENT, "layout_mismatch", "tensor '" + t.name() + "' declares no weight "
                    + "layout; the base weight of " + w.module() + " is stored " + w.layout() + " (update the agent)");
        }
        if (t.layout() != w.layout()) {
            throw new Rejection(Kind.INVALID_ARGUMENT, "layout_mismatch", "tensor '" + t.name() + "' was trained for a "
                    + t.layout() + " weight but the federation's model stores " + w.module() + " as " + w.layout());
        }
    }

    /** The decoded values: all expected tensors present with their shapes, finite, within the norm bound. */
    static void checkValues(Map<String, DecodedTensor> tensors, List<TensorSpec> expected, double maxNorm) {
        if (tensors.size() != expected.size()) {
            throw new Rejection(Kind.INVALID_ARGUMENT, "tensor_mismatch", "update carries " + tensors.size()
                    + " tensors, expected " + expected.size());
        }
        for (TensorSpec w : expected) {
            DecodedTensor d = tensors.get(w.name());
            if (d == null) {
                throw new Rejection(Kind.INVALID_ARGUMENT, "tensor_mismatch", "missing tensor '" + w.name() + "'");
            }
            checkSpec(d.spec(), w);
            INDArray v = d.values();
            if (v == null || !Arrays.equals(v.shape(), w.shape())) {
                throw new Rejection(Kind.INVALID_ARGUMENT, "tensor_mismatch", "tensor '" + w.name() + "' decoded to shape "
                        + (v == null ? "none" : Arrays.toString(v.shape())) + ", expected " + Arrays.toString(w.shape()));
            }
            INDArray asDouble = v.castTo(DataType.DOUBLE);
            if (asDouble.isNaN().any() || asDouble.isInfinite().any()) {
                throw new Rejection(Kind.INVALID_ARGUMENT, "non_finite", "tensor '" + w.name() + "' contains NaN or infinite values");
            }
            double norm = asDouble.norm2Number().doubleValue();
            if (!(norm <= maxNorm)) {
                throw new Rejection(Kind.INVALID_ARGUMENT, "norm_exceeded", String.format(java.util.Locale.ROOT,
                        "tensor '%s' has L2 norm %.6g above the federation's bound %.6g", w.name(), norm, maxNorm));
            }
        }
    }

    static long byteSize(List<TensorSpec> specs) {
        long total = 0;
        for (TensorSpec t : specs) {
            long n = t.dtype().byteSize();
            for (long d : t.shape()) {
                n *= d;
            }
            total += n;
        }
        return total;
    }
}
