package io.fedlora.agent.daemon.upload;

import io.fedlora.aggregation.lora.WeightLayout;
import java.util.List;
import java.util.Map;

/**
 * An update that must reach the coordinator, persisted before the first attempt so a restarted agent resends
 * it under the same {@code uploadId} (the coordinator answers a repeat with its first receipt).
 */
public record PendingUpload(
        String uploadId,
        String federationId,
        int round,
        long baseModelVersion,
        long numExamples,
        Map<String, Double> metrics,
        List<Tensor> tensors) {

    public PendingUpload {
        metrics = Map.copyOf(metrics);
        tensors = List.copyOf(tensors);
    }

    /**
     * One tensor of the update as the header declares it; {@code role} is {@code LORA_A} or {@code LORA_B},
     * {@code dtype} the wire dtype, {@code sha256} the hash of its wire bytes, {@code layout} the layout of the
     * module's base weight (null in a record an older agent left: sent unspecified, which the coordinator refuses).
     */
    public record Tensor(String name, String module, String role, String dtype, long[] shape, String sha256, long byteSize,
                         WeightLayout layout) {}
}
