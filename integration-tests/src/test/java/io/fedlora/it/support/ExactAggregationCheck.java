package io.fedlora.it.support;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.fedlora.demo.run.FederationDriver;

/**
 * The end-to-end oracle for FedEx-LoRA: exports every version of a finished federation and checks, per
 * round and adapted module, that the exported model (base/'s residual-folded base + s·B'A' from adapter/, and the
 * top-level merged model on its own) equals the
 * example-weighted average of the clients' effective weights {@code Σ w_i (W_prev + s·B_i A_i)}, computed
 * in double precision from the updates the coordinator stored (its database rows and blob files), with
 * code that shares nothing with the aggregation module. An update dropped, counted twice, or a residual
 * not folded all move the exported model away from that average by far more than the tolerance. The layout of
 * each family's weights is stated here ({@link Family}), not guessed from shapes: a residual folded in the wrong
 * layout (the transpose into an {@code nn.Linear} weight) fails on square weights too ({@code ExactAggregationCheckTest}).
 */
public final class ExactAggregationCheck {

    private static final Logger log = LoggerFactory.getLogger(ExactAggregationCheck.class);

    /** Relative error allowed between the exported model and the exact average (float32 storage rounds at ~6e-8). */
    public static final double TOLERANCE = 1e-6;

    /**
     * One module of one round: errors of the export ({@code exact}: folded base + s·B'A'; {@code merged}: the export's
     * top-level merged weight), of FedIT's {@code W_prev + s·B'A'}, and {@code transposedFold}: the export a coordinator
     * folding the residual with the other layout's convention (transposed) would give, {@code NaN} where the weight is
     * not square and that fold could not be added at all; all relative to the target.
     */
    public record ModuleError(int round, String module, double exact, double exactOfUpdate, double merged, double fedit,
                              double transposedFold) {
    }

    /**
     * How HF stores a layer's weight, stated here rather than taken from the code under test. With {@code B}
     * ({@code d_out x r}) and {@code A} ({@code r x d_in}) as PEFT saves them, {@code B·A} is {@code d_out x d_in}.
     */
    public enum Layout {
        /** {@code nn.Linear}: {@code W} is {@code [d_out, d_in]}, the update is {@code s·B·A} itself. */
        LINEAR,
        /** GPT-2's {@code Conv1D}: {@code W} is {@code [d_in, d_out]}, the update is {@code (s·B·A)^T}. */
        CONV1D;

        /** {@code B·A} as an update of a weight stored in this layout; refuses a weight of any other shape. */
        public Matrix delta(Matrix b, Matrix a, Matrix weight) {
            Matrix ba = b.times(a);
            Matrix delta = this == LINEAR ? ba : ba.transpose();
            if (delta.rows() != weight.rows() || delta.cols() != weight.cols()) {
                throw new AssertionError("B·A is " + ba.shape() + ": in the " + this + " layout the weight would be "
                        + delta.shape() + ", it is " + weight.shape());
            }
            return delta;
        }
    }

    /**
     * What the check needs to know of a model family, written from HF's and PEFT's conventions: the checkpoint key
     * prefix of the body some files carry, the modules the federation adapts (key suffixes), the prefix PEFT puts
     * before a module name in {@code adapter_model.safetensors}, and the layout of the adapted weights.
     */
    public record Family(String optionalKeyPrefix, List<String> moduleSuffixes, String peftPrefix, Layout layout) {

        /** GPT-2 with LoRA on {@code c_attn}: {@code Conv1D}, keys {@code [transformer.]h.N.attn.c_attn}. */
        public static final Family GPT2_C_ATTN =
                new Family("transformer.", List.of("attn.c_attn"), "base_model.model.transformer.", Layout.CONV1D);

        /** A Llama model with LoRA on the given projections ({@code nn.Linear}, keys {@code model.layers.N.*}). */
        public static Family llama(List<String> projections) {
            return new Family("", projections.stream()
                    .map(p -> (List.of("gate_proj", "up_proj", "down_proj").contains(p) ? "mlp." : "self_attn.") + p)
                    .toList(), "base_model.model.", Layout.LINEAR);
        }

        /**
         * The family of the model in {@code modelDir}, chosen by its {@code config.json} {@code model_type} (as HF's
         * {@code AutoModel} does) with LoRA on {@code targets} (PEFT's target names): {@code gpt2} is
         * {@code Conv1D}, the Llama-layout types ({@code llama}, {@code mistral}, {@code qwen2}) are {@code nn.Linear}.
         * Neither the layout nor the family is inferred from module names or weight shapes.
         */
        public static Family of(Path modelDir, List<String> targets) throws IOException {
            JsonNode type = new ObjectMapper().readTree(modelDir.resolve("config.json").toFile()).get("model_type");
            assertThat(type).as("model_type in %s/config.json", modelDir).isNotNull();
            return switch (type.asText()) {
                case "gpt2" -> new Family("transformer.", targets.stream().map(t -> switch (t) {
                    case "c_attn" -> "attn.c_attn";
                    case "c_fc" -> "mlp.c_fc";
                    default -> throw new AssertionError("GPT-2 target " + t + " is not checked here");
                }).toList(), "base_model.model.transformer.", Layout.CONV1D);
                case "llama", "mistral", "qwen2" -> llama(targets);
                default -> throw new AssertionError("no stated layout for model_type " + type.asText());
            };
        }

        boolean adapts(String key) {
            return key.endsWith(".weight") && moduleSuffixes.stream().anyMatch(m -> key.endsWith("." + m + ".weight"));
        }
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
        return verify(driver, coordinator, federationId, rounds, clientsPerRound, scale, Family.GPT2_C_ATTN,
                originalModelDir, exportRoot);
    }

    /** As above for a model of {@code family}. */
    public static List<ModuleError> verify(FederationDriver driver, FederationEnvironment.Coordinator coordinator,
                                           String federationId, int rounds, int clientsPerRound, double scale,
                                           Family family, Path originalModelDir, Path exportRoot) throws IOException {
        assertThat(driver.admin().modelVersions(federationId)).as("published versions")
                .containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(0, rounds).boxed().toList());
        List<Map<String, Matrix>> models = new ArrayList<>();
        List<Map<String, Matrix>> merged = new ArrayList<>();
        List<Map<String, Matrix>> adapters = new ArrayList<>();
        for (long v = 0; v <= rounds; v++) {
            Path dir = driver.export(federationId, v, exportRoot.resolve("v" + v));
            // the export's layout: the merged model on top, the PEFT adapter in adapter/ and its folded base in base/
            assertThat(dir.resolve("adapter_config.json")).as("v%d: no adapter beside the merged model", v).doesNotExist();
            assertThat(dir.resolve("base").resolve("config.json")).as("v%d: base/ does not load alone", v).doesNotExist();
            models.add(stripPrefix(SafetensorsFile.read(dir.resolve("base").resolve("model.safetensors")), family));
            merged.add(stripPrefix(SafetensorsFile.read(dir.resolve("model.safetensors")), family));
            adapters.add(SafetensorsFile.read(dir.resolve("adapter").resolve("adapter_model.safetensors")));
        }
        Map<String, Matrix> original = stripPrefix(SafetensorsFile.read(originalModelDir.resolve("model.safetensors")), family);
        List<String> modules = original.keySet().stream()
                .filter(family::adapts)
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
                errors.add(checkModule(round, module, family, scale, models.get(round - 1).get(module + ".weight"),
                        clientTensors, weights, models.get(round).get(module + ".weight"),
                        merged.get(round).get(module + ".weight"), adapters.get(round)));
            }
        }
        return errors;
    }

    private static ModuleError checkModule(int round, String module, Family family, double scale, Matrix previousBase,
                                           List<Map<String, Matrix>> clients, List<Double> weights, Matrix exportedBase,
                                           Matrix mergedWeight, Map<String, Matrix> exportedAdapter) {
        List<Matrix> as = new ArrayList<>();
        List<Matrix> bs = new ArrayList<>();
        for (int i = 0; i < clients.size(); i++) {
            Matrix a = clients.get(i).get(module + ".lora_A");
            Matrix b = clients.get(i).get(module + ".lora_B");
            assertThat(a).as("client %d's lora_A of %s", i, module).isNotNull();
            assertThat(b).as("client %d's lora_B of %s", i, module).isNotNull();
            as.add(a);
            bs.add(b);
        }
        Matrix globalA = exportedAdapter.get(family.peftPrefix() + module + ".lora_A.weight");
        Matrix globalB = exportedAdapter.get(family.peftPrefix() + module + ".lora_B.weight");
        assertThat(globalA).as("exported lora_A of %s (keys %s)", module, exportedAdapter.keySet()).isNotNull();
        assertThat(globalB).as("exported lora_B of %s", module).isNotNull();
        assertThat(mergedWeight).as("merged (top-level) weight of %s", module).isNotNull();
        Round r = new Round(family.layout(), scale, previousBase, as, bs, weights);
        assertThat(globalA.distance(r.meanA()) / r.meanA().frobenius()).as("round %d %s: A' = Σ w_i A_i", round, module)
                .isLessThan(TOLERANCE);
        assertThat(globalB.distance(r.meanB()) / Math.max(r.meanB().frobenius(), 1e-30))
                .as("round %d %s: B' = Σ w_i B_i", round, module).isLessThan(TOLERANCE);

        ModuleError error = r.error(round, module, exportedBase, globalA, globalB, mergedWeight);
        log.info("round {} {} ({}): fedex rel error {} ({} of the update), merged {}, fedit {}, transposed fold {}",
                round, module, family.layout(), error.exact(), error.exactOfUpdate(), error.merged(), error.fedit(),
                error.transposedFold());
        assertThat(r.target().distance(previousBase)).as("round %d changed %s", round, module).isGreaterThan(0);
        assertThat(error.exact()).as("round %d %s: exported model vs Σ w_i (W + s B_i A_i)", round, module)
                .isLessThan(TOLERANCE);
        assertThat(error.exactOfUpdate()).as("round %d %s: error relative to the round's update", round, module)
                .isLessThan(1e-3);
        assertThat(error.merged()).as("round %d %s: merged (top-level) weight vs Σ w_i (W + s B_i A_i)", round, module)
                .isLessThan(TOLERANCE);
        return error;
    }

    /**
     * One module's round in double precision: the clients' factors and weights on the previous base, the target
     * {@code Σ w_i (W_prev + s·Δ(B_i, A_i))} in the family's layout, and the errors of an export against it.
     */
    public record Round(Layout layout, double scale, Matrix previousBase, List<Matrix> as, List<Matrix> bs,
                        List<Double> weights) {

        /** The weighted average of the clients' effective weights. */
        public Matrix target() {
            Matrix target = Matrix.zeros(previousBase.rows(), previousBase.cols());
            for (int i = 0; i < as.size(); i++) {
                target = target.plus(previousBase.plus(layout.delta(bs.get(i), as.get(i), previousBase), scale), weights.get(i));
            }
            return target;
        }

        public Matrix meanA() {
            return mean(as);
        }

        public Matrix meanB() {
            return mean(bs);
        }

        private Matrix mean(List<Matrix> factors) {
            Matrix m = factors.get(0).scaled(weights.get(0));
            for (int i = 1; i < factors.size(); i++) {
                m = m.plus(factors.get(i), weights.get(i));
            }
            return m;
        }

        /** Errors of an export (folded base, global factors, merged weight) and of FedIT on these updates. */
        public ModuleError error(int round, String module, Matrix exportedBase, Matrix globalA, Matrix globalB,
                                 Matrix mergedWeight) {
            Matrix target = target();
            Matrix exported = exportedBase.plus(layout.delta(globalB, globalA, exportedBase), scale);
            Matrix fedit = previousBase.plus(layout.delta(meanB(), meanA(), previousBase), scale);
            double norm = target.frobenius();
            return new ModuleError(round, module, exported.distance(target) / norm,
                    exported.distance(target) / target.distance(previousBase), mergedWeight.distance(target) / norm,
                    fedit.distance(target) / norm, transposedFold(target) / norm);
        }

        /**
         * Distance from the target of {@code W_prev + s·R^T + s·B'A'} with the exact residual
         * {@code R = Σ w_i Δ_i − Δ(B', A')}: the residual folded transposed, as a coordinator using the other layout's
         * convention would; {@code NaN} for a non-square weight, where {@code R^T} has the wrong shape.
         */
        private double transposedFold(Matrix target) {
            if (previousBase.rows() != previousBase.cols()) {
                return Double.NaN;
            }
            Matrix mean = layout.delta(meanB(), meanA(), previousBase);
            Matrix residual = target.plus(previousBase, -1).scaled(1 / scale).plus(mean, -1);
            return previousBase.plus(residual.transpose(), scale).plus(mean, scale).distance(target);
        }
    }

    private static Map<String, Matrix> stripPrefix(Map<String, Matrix> tensors, Family family) {
        String prefix = family.optionalKeyPrefix();
        Map<String, Matrix> out = new LinkedHashMap<>();
        tensors.forEach((k, v) -> out.put(!prefix.isEmpty() && k.startsWith(prefix) ? k.substring(prefix.length()) : k, v));
        return out;
    }
}
