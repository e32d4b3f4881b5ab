package io.fedlora.agent.daemon.work;

import io.fedlora.agent.daemon.AgentProperties;
import io.fedlora.agent.daemon.AgentStatus;
import io.fedlora.agent.daemon.cache.AdapterKeys;
import io.fedlora.agent.daemon.cache.CachedVersion;
import io.fedlora.agent.daemon.transport.CoordinatorClient;
import io.fedlora.agent.daemon.upload.UpdateUploader;
import io.fedlora.agent.daemon.upload.UploadOutcome;
import io.fedlora.agent.data.BadLinePolicy;
import io.fedlora.agent.data.JsonlDataset;
import io.fedlora.agent.model.CausalLm;
import io.fedlora.agent.model.LoraTargets;
import io.fedlora.agent.tokenizer.Tokenizers;
import io.fedlora.agent.train.LoraTrainer;
import io.fedlora.agent.train.TrainingConfig;
import io.fedlora.agent.train.TrainingResult;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraInit;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.aggregation.family.ModelSpec;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TrainingPlan;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a TRAIN task: local LoRA training from the version's global adapter on {@code train.jsonl}, then hands
 * exactly the tensors the task expects ({@code expected_update}) to the uploader. Raw data never leaves this class.
 */
public final class TrainingJob {

    private static final Logger log = LoggerFactory.getLogger(TrainingJob.class);

    private final AgentProperties props;
    private final AgentStatus status;
    private final LoadedModels models;
    private final UpdateUploader uploader;

    public TrainingJob(AgentProperties props, AgentStatus status, LoadedModels models, UpdateUploader uploader) {
        this.props = props;
        this.status = status;
        this.models = models;
        this.uploader = uploader;
    }

    /** Trains one round; {@code seedIdentity} (the client's enrolment name) seeds its data order for that round. */
    public UploadOutcome run(TaskResponse task, CachedVersion version, String seedIdentity) throws IOException, InterruptedException {
        TrainingPlan plan = task.getPlan();
        CausalLm base = models.get(version);
        TrainingConfig config = config(plan, seedIdentity, task.getRound());
        JsonlDataset data = Tokenizers.with(version.dir(), t -> JsonlDataset.read(props.trainFile(), t,
                config.maxSeqLen(), badLinePolicy(props)));
        if (data.size() == 0) {
            throw new IllegalStateException(props.trainFile() + " holds no usable training example");
        }
        Map<String, WeightLayout> layouts = layouts(task.getExpectedUpdateList(), base.spec());
        Map<String, LoraFactors> start = startFactors(version, base, plan);
        log.info("round {}: training from version {} on {} examples ({}, rank {}, {} steps/{} epochs, batch {}, lr {})",
                task.getRound(), version.version(), data.size(), plan.getStrategy(), plan.getRank(),
                plan.getLocalSteps(), plan.getLocalEpochs(), plan.getBatchSize(), plan.getLearningRate());
        int every = Math.max(1, props.logEverySteps());
        TrainingResult result = new LoraTrainer(base, config).train(start, data, (step, total, loss, tps) -> {
            status.state("training round " + task.getRound() + " step " + step + "/" + total);
            if (step % every == 0 || step == total || step == 1) {
                log.info("round {} step {}/{} loss {} ({} tokens/s)", task.getRound(), step, total,
                        String.format(Locale.ROOT, "%.4f", loss), String.format(Locale.ROOT, "%.0f", tps));
            }
        });
        if (Thread.currentThread().isInterrupted()) {
            throw new InterruptedException("training interrupted");
        }
        log.info("round {}: trained on {} examples, metrics {}", task.getRound(), result.numExamples(), result.metrics());
        String uploading = "uploading round " + task.getRound();
        status.state(uploading);
        UpdateUploader.Update update = new UpdateUploader.Update(UUID.randomUUID().toString(), task.getFederationId(),
                task.getRound(), task.getModelVersion(), result.numExamples(), result.metrics(),
                items(task.getExpectedUpdateList(), result.factors(), layouts, task.getMaxUpdateNorm()));
        // the heartbeat shows a wait for the coordinator's admission (a thousand clients finishing together)
        return uploader.upload(update, new CoordinatorClient.UploadListener() {
            @Override
            public void queued(int ahead) {
                status.state(uploading + ": queued behind " + ahead + " others at the coordinator");
            }

            @Override
            public void admitted() {
                status.state(uploading);
            }
        });
    }

    /** The plan as trainer settings; the data order is seeded per client and per round. */
    static TrainingConfig config(TrainingPlan plan, String seedIdentity, int round) {
        boolean freezeA = "ffa".equalsIgnoreCase(plan.getStrategy());
        return new TrainingConfig(plan.getTargetModulesList(), plan.getRank(), plan.getAlpha(), plan.getUseRslora(), freezeA,
                plan.getLocalEpochs(), plan.getLocalSteps(), plan.getBatchSize(), plan.getLearningRate(),
                plan.getWeightDecay(), plan.getMaxGradNorm(), Seeds.forClientRound(plan.getSeed(), seedIdentity, round), plan.getMaxSeqLen());
    }

    static BadLinePolicy badLinePolicy(AgentProperties props) {
        return props.badLines() == null ? BadLinePolicy.SKIP : props.badLines();
    }

    /**
     * The version's global adapter; a version without one (a coordinator that leaves initialisation to the
     * clients) starts every client from the same PEFT initialisation seeded by the federation's seed.
     */
    private static Map<String, LoraFactors> startFactors(CachedVersion version, CausalLm base, TrainingPlan plan)
            throws IOException {
        Map<String, LoraFactors> adapter = version.adapter();
        if (!adapter.isEmpty()) {
            return adapter;
        }
        log.info("version {} carries no adapter: initialising LoRA from the federation seed", version.version());
        LoraScaling scaling = new LoraScaling(plan.getAlpha(), plan.getRank(), plan.getUseRslora());
        Map<String, LoraFactors> init = new LinkedHashMap<>();
        for (LoraLayer layer : LoraTargets.resolve(base.spec(), plan.getTargetModulesList(), plan.getRank(), scaling)) {
            init.put(layer.module(), LoraInit.init(layer, plan.getSeed()));
        }
        return init;
    }

    /**
     * The layout this agent's model family gives each module the task expects, which the upload declares; a task that
     * says the coordinator's model stores a module otherwise is refused before training (the factors would describe
     * another model, and nothing in their shapes shows it for a square weight).
     */
    static Map<String, WeightLayout> layouts(List<TensorMeta> expected, ModelSpec spec) {
        Map<String, WeightLayout> own = new LinkedHashMap<>();
        spec.adaptableModules().forEach(m -> own.put(m.name(), m.layout()));
        Map<String, WeightLayout> out = new LinkedHashMap<>();
        for (TensorMeta meta : expected) {
            String module = meta.getModule().isEmpty() ? AdapterKeys.moduleOf(meta.getName()) : meta.getModule();
            WeightLayout mine = own.get(module);
            if (mine == null) {
                throw new IllegalStateException("the task expects " + meta.getName() + " but module " + module
                        + " is not an adaptable module of this " + spec.family() + " model");
            }
            WeightLayout theirs = switch (meta.getLayout()) {
                case WEIGHT_LAYOUT_LINEAR -> WeightLayout.LINEAR;
                case WEIGHT_LAYOUT_CONV1D -> WeightLayout.CONV1D;
                default -> null;
            };
            if (theirs != null && theirs != mine) {
                throw new IllegalStateException("the coordinator's model stores " + module + " as " + theirs + " but this "
                        + "agent's " + spec.family() + " model stores it as " + mine + ": refusing to train for another model");
            }
            out.put(module, mine);
        }
        return out;
    }

    /**
     * The trained factors in the order, names, shapes and dtypes of the task's {@code expected_update}, each declared
     * with its module's layout from {@link #layouts}.
     */
    static List<UpdateUploader.Item> items(List<TensorMeta> expected, Map<String, LoraFactors> factors,
                                           Map<String, WeightLayout> layouts, double maxNorm) {
        if (expected.isEmpty()) {
            throw new IllegalStateException("the TRAIN task lists no expected update tensors");
        }
        List<UpdateUploader.Item> items = new ArrayList<>();
        for (TensorMeta meta : expected) {
            String module = meta.getModule().isEmpty() ? AdapterKeys.moduleOf(meta.getName()) : meta.getModule();
            LoraFactors f = factors.get(module);
            if (f == null) {
                throw new IllegalStateException("the task expects " + meta.getName() + " but training produced no module "
                        + module + " (trained: " + factors.keySet() + ")");
            }
            INDArray values = switch (meta.getRole()) {
                case LORA_A -> f.a();
                case LORA_B -> f.b();
                default -> throw new IllegalStateException("the task expects " + meta.getName() + " with role "
                        + meta.getRole() + "; only LORA_A and LORA_B can be uploaded");
            };
            long[] shape = meta.getShapeList().stream().mapToLong(Long::longValue).toArray();
            if (!Arrays.equals(shape, values.shape())) {
                throw new IllegalStateException(meta.getName() + ": the task expects shape " + Arrays.toString(shape)
                        + " but training produced " + Arrays.toString(values.shape()));
            }
            double norm = values.norm2Number().doubleValue();
            if (maxNorm > 0 && norm > maxNorm) {
                log.warn("{} has L2 norm {} above the federation's bound {}; the coordinator will refuse it",
                        meta.getName(), norm, maxNorm);
            }
            items.add(new UpdateUploader.Item(meta.getName(), module, meta.getRole().name(), meta.getDtype().name(),
                    layouts.get(module), values));
        }
        return items;
    }
}
