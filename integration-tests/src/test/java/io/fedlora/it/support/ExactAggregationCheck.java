package io.fedlora.it.support;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.fedlora.demo.run.FederationDriver;

/**
 * The end-to-end oracle for FedEx-LoRA: exports every version of a finished federation and checks, per
 * round and adapted module, that the exported model (residual-folded base + s·B'A') equals the
 * example-weighted average of the clients' effective weights {@code Σ w_i (W_prev + s·B_i A_i)}, computed
 * in double precision from the updates the coordinator stored (its database rows and blob files), with
 * code that shares nothing with the aggregation module. An update dropped, counted twice, or a residual
 * not folded all move the exported model away from that average by far more than the tolerance.
 */
public final class ExactAggregationCheck {

    private static final Logger log = LoggerFactory.getLogger(ExactAggregationCheck.class);

    /** Relative error allowed between the exported model and the exact average (float32 storage rounds at ~6e-8). */
    public static final double TOLERANCE = 1e-6;

    /** One module of one round: errors of the export and of FedIT's {@code W_prev + s·B'A'}, relative to the target. */
    public record ModuleError(int round, String module, double exact, double exactOfUpdate, double fedit) {
    }

    private ExactAggregationCheck() {
    }

    /**
     * Exports versions 0..{@code rounds} under {@code exportRoot}, asserts that version 0 is the original
     * model and that every round aggregated {@code clientsPerRound} stored updates exactly, and returns
     * the errors measured.
     */
    public static List<ModuleError> verify(FederationDriver driver, FederationEnvironment.Coordinator coordinator,
                                           String federationId, int rounds, int clientsPerRound, double scale,
                                           Path originalModelDir, Path exportRoot) throws IOException {
        assertThat(driver.admin().modelVersions(federationId)).as("published versions")
                .containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(0, rounds).boxed().toList());
        List<Map<String, Matrix>> models = new ArrayList<>();
        List<Map<String, Matrix>> adapters = new ArrayList<>();
        for (long v = 0; v <= rounds; v++) {
            Path dir = driver.export(federationId, v, exportRoot.resolve("v" + v));
            models.add(stripPrefix(SafetensorsFile.read(dir.resolve("model.safetensors"))));
            adapters.add(SafetensorsFile.read(dir.resolve("adapter_model.safetensors")));
        }
        Map<String, Matrix> original = stripPrefix(SafetensorsFile.read(originalModelDir.resolve("model.safetensors")));
        List<String> modules = original.keySet().stream()
                .filter(k -> k.endsWith("attn.c_attn.weight"))
                .map(k -> k.substring(0, k.length() - ".weight".length()))
                .sorted().toList();
        assertThat(modules).as("adapted modules of the original model").isNotEmpty();
        for (String module : modules) {
            assertThat(models.get(0).get(module + ".weight").distance(original.get(module + ".weight")))
                    .as("version 0 base of %s is the original weight", module).isZero();
        }

        List<ModuleError> errors = new ArrayList<>();
        for (int round = 1; round <= rounds; round++) {
            List<Map<String, Object>> updates = coordinator.database().query("""
                    SELECT u.blob_sha256, u.num_examples FROM updates u JOIN rounds r ON r.id = u.round_id
                    WHERE r.federation_id = ? AND r.number = ? AND r.status = 'PUBLISHED' AND u.status = 'AGGREGATED'
                    ORDER BY u.client_id""", UUID.fromString(federationId), round);
            assertThat(updates).as("aggregated updates of round %d", round).hasSize(clientsPerRound);
            double total = updates.stream().mapToLong(u -> ((Number) u.get("num_examples")).longValue()).sum();
            List<Map<String, Matrix>> clientTensors = new ArrayList<>();
            List<Double> weights = new ArrayList<>();
            for (Map<String, Object> u : updates) {
                Path blob = BlobFiles.find(coordinator.process().settings().dataDir(), u.get("blob_sha256").toString().trim());
                clientTensors.add(SafetensorsFile.read(blob));
                weights.add(((Number) u.get("num_examples")).longValue() / total);
            }
            for (String module : modules) {
                errors.add(checkModule(round, module, scale, models.get(round - 1).get(module + ".weight"), clientTensors,
                        weights, models.get(round).get(module + ".weight"), adapters.get(round)));
            }
        }
        return errors;
    }

    private static ModuleError checkModule(int round, String module, double scale, Matrix previousBase,
                                           List<Map<String, Matrix>> clients, List<Double> weights, Matrix exportedBase,
                                           Map<String, Matrix> exportedAdapter) {
        Matrix target = Matrix.zeros(previousBase.rows(), previousBase.cols());
        Matrix meanA = null;
        Matrix meanB = null;
        for (int i = 0; i < clients.size(); i++) {
            Matrix a = clients.get(i).get(module + ".lora_A");
            Matrix b = clients.get(i).get(module + ".lora_B");
            assertThat(a).as("client %d's lora_A of %s", i, module).isNotNull();
            assertThat(b).as("client %d's lora_B of %s", i, module).isNotNull();
            double w = weights.get(i);
            target = target.plus(previousBase.plus(inLayout(b.times(a), previousBase), scale), w);
            meanA = meanA == null ? a.scaled(w) : meanA.plus(a, w);
            meanB = meanB == null ? b.scaled(w) : meanB.plus(b, w);
        }
        Matrix globalA = exportedAdapter.get("base_model.model.transformer." + module + ".lora_A.weight");
        Matrix globalB = exportedAdapter.get("base_model.model.transformer." + module + ".lora_B.weight");
        assertThat(globalA).as("exported lora_A of %s", module).isNotNull();
        assertThat(globalB).as("exported lora_B of %s", module).isNotNull();
        assertThat(globalA.distance(meanA) / meanA.frobenius()).as("round %d %s: A' = Σ w_i A_i", round, module)
                .isLessThan(TOLERANCE);
        assertThat(globalB.distance(meanB) / Math.max(meanB.frobenius(), 1e-30)).as("round %d %s: B' = Σ w_i B_i", round, module)
                .isLessThan(TOLERANCE);

        Matrix exported = exportedBase.plus(inLayout(globalB.times(globalA), exportedBase), scale);
        Matrix fedit = previousBase.plus(inLayout(meanB.times(meanA), previousBase), scale);
        double update = target.distance(previousBase);
        ModuleError error = new ModuleError(round, module, exported.distance(target) / target.frobenius(),
                exported.distance(target) / update, fedit.distance(target) / target.frobenius());
        log.info("round {} {}: fedex rel error {} ({} of the update), fedit {}", round, module, error.exact(),
                error.exactOfUpdate(), error.fedit());
        assertThat(update).as("round %d changed %s", round, module).isGreaterThan(0);
        assertThat(error.exact()).as("round %d %s: exported model vs Σ w_i (W + s B_i A_i)", round, module)
                .isLessThan(TOLERANCE);
        assertThat(error.exactOfUpdate()).as("round %d %s: error relative to the round's update", round, module)
                .isLessThan(1e-3);
        return error;
    }

    /** A LINEAR-layout delta (d_out x d_in) in the base weight's layout (HF Conv1D stores d_in x d_out). */
    private static Matrix inLayout(Matrix delta, Matrix base) {
        if (base.rows() == delta.rows() && base.cols() == delta.cols() && base.rows() != base.cols()) {
            return delta;
        }
        return delta.transpose();
    }

    private static Map<String, Matrix> stripPrefix(Map<String, Matrix> tensors) {
        Map<String, Matrix> out = new LinkedHashMap<>();
        tensors.forEach((k, v) -> out.put(k.startsWith("transformer.") ? k.substring("transformer.".length()) : k, v));
        return out;
    }
}
