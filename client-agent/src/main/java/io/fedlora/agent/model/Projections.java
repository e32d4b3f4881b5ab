package io.fedlora.agent.model;

import io.fedlora.agent.model.ops.Linear;
import io.fedlora.agent.model.ops.Tensors;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.WeightLayout;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;
import java.util.Map;

/**
 * The projections of a network as {@link Linear} ops: each module's frozen weight in its family's layout, its bias when
 * the checkpoint has one, its LoRA factors when adapted, and where a backward pass for a {@link GradientTarget} writes
 * their gradients. Every family's network composes its layers from this, so the adapter checks and the gradient
 * bookkeeping exist once.
 */
final class Projections {

    private final Map<String, INDArray> weights;
    private final WeightLayout layout;
    private final Map<String, LoraFactors> adapters;
    private final double scale;
    private final DataType dtype;

    /**
     * @param weights  the model's weights by key ({@code MODULE.weight}, optional {@code MODULE.bias})
     * @param adapters LoRA factors by module; referenced, not copied, so an optimiser's in-place updates are seen
     * @param scale    the adapters' scale s
     */
    Projections(Map<String, INDArray> weights, WeightLayout layout, Map<String, LoraFactors> adapters, double scale, DataType dtype) {
        this.weights = weights;
        this.layout = layout;
        this.adapters = Map.copyOf(adapters);
        this.scale = scale;
        this.dtype = dtype;
        if (dtype != DataType.FLOAT && dtype != DataType.DOUBLE) {
            throw new IllegalArgumentException("the network computes in FLOAT or DOUBLE, the model is " + dtype);
        }
        for (Map.Entry<String, LoraFactors> e : this.adapters.entrySet()) {
            Linear l = linear(e.getKey());
            LoraFactors f = e.getValue();
            if (f.a().size(1) != l.in() || f.b().size(0) != l.out()) {
                throw new IllegalArgumentException("adapter " + e.getKey() + " (A " + Arrays.toString(f.a().shape()) + ", B "
                        + Arrays.toString(f.b().shape()) + ") does not fit the "
                        + (layout == WeightLayout.CONV1D ? "Conv1D" : "Linear") + " weight " + Arrays.toString(l.weight().shape()));
            }
            if (f.a().dataType() != dtype || f.b().dataType() != dtype) {
                throw new IllegalArgumentException("adapter " + e.getKey() + " is " + f.a().dataType() + ", the model " + dtype);
            }
            if (!dense(f.a()) || !dense(f.b())) {
                throw new IllegalArgumentException("adapter " + e.getKey() + " must be dense c-order arrays");
            }
        }
    }

    private static boolean dense(INDArray a) {
        return a.ordering() == 'c' && (a.length() <= 1 || a.elementWiseStride() == 1);
    }

    /** The adapted modules. */
    Iterable<String> adapted() {
        return adapters.keySet();
    }

    /** The module's op (built per use: a record of references). */
    Linear linear(String module) {
        INDArray w = weights.get(module + ".weight");
        if (w == null) {
            throw new IllegalArgumentException("no weight '" + module + ".weight'");
        }
        return new Linear(w, layout, weights.get(module + ".bias"), adapters.get(module), scale);
    }

    /** Whether backward needs the module's input: its frozen weight is trained, or its adapter's A is. */
    boolean needsInput(String module, GradientTarget target) {
        return target == GradientTarget.BASE || (adapters.containsKey(module) && target == GradientTarget.LORA);
    }

    /**
     * Allocates the gradients {@code target} asks of the module, registers them in {@code grads} under their
     * parameters' names and returns them for {@link Linear#backward}: weight and bias (when present) in BASE mode,
     * the adapter's B (and A, in LORA mode) otherwise; none for a frozen, unadapted module.
     */
    Linear.Grads grads(String module, GradientTarget target, Map<String, INDArray> grads) {
        if (target == GradientTarget.BASE) {
            Linear l = linear(module);
            INDArray dW = Tensors.empty(dtype, l.weight().size(0), l.weight().size(1));
            grads.put(module + ".weight", dW);
            INDArray dB = null;
            if (l.bias() != null) {
                dB = Tensors.empty(dtype, 1, l.out()).reshape(l.out());
                grads.put(module + ".bias", dB);
            }
            return new Linear.Grads(dW, dB, null, null);
        }
        LoraFactors f = adapters.get(module);
        if (f == null) {
            return Linear.Grads.NONE;
        }
        INDArray dB = Tensors.empty(dtype, f.b().size(0), f.b().size(1));
        grads.put(module + ".lora_B", dB);
        INDArray dA = null;
        if (target == GradientTarget.LORA) {
            dA = Tensors.empty(dtype, f.a().size(0), f.a().size(1));
            grads.put(module + ".lora_A", dA);
        }
        return new Linear.Grads(null, null, dA, dB);
    }
}
