package io.fedlora.agent.daemon.work;

import io.fedlora.agent.daemon.AgentProperties;
import io.fedlora.agent.daemon.cache.CachedVersion;
import io.fedlora.agent.data.JsonlDataset;
import io.fedlora.agent.model.CausalLm;
import io.fedlora.agent.tokenizer.Tokenizers;
import io.fedlora.agent.train.EvalResult;
import io.fedlora.agent.train.Evaluator;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraScaling;
import io.fedlora.proto.v1.EvaluationReport;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.TrainingPlan;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs an EVALUATE task: the published version (base + global adapter) on the held-out {@code eval.jsonl};
 * only the aggregate loss and accuracy leave the node.
 */
public final class EvaluationJob {

    private static final Logger log = LoggerFactory.getLogger(EvaluationJob.class);
    private static final int DEFAULT_MAX_SEQ_LEN = 64;

    private final AgentProperties props;
    private final LoadedModels models;
    private final Evaluator evaluator = new Evaluator();

    public EvaluationJob(AgentProperties props, LoadedModels models) {
        this.props = props;
        this.models = models;
    }

    /**
     * @param lastPlan the plan of the most recent TRAIN task, used for the adapter's scaling when an EVALUATE
     *                 task carries no plan of its own
     */
    public EvaluationReport run(TaskResponse task, CachedVersion version, Optional<TrainingPlan> lastPlan) throws IOException {
        CausalLm base = models.get(version);
        TrainingPlan plan = task.hasPlan() && task.getPlan().getRank() > 0 ? task.getPlan() : lastPlan.orElse(null);
        Map<String, LoraFactors> adapter = version.adapter();
        LoraScaling scaling;
        if (plan != null) {
            scaling = new LoraScaling(plan.getAlpha(), plan.getRank(), plan.getUseRslora());
        } else {
            if (!adapter.isEmpty()) {
                log.warn("EVALUATE task for version {} has no plan and no earlier TRAIN task gave one: evaluating the"
                        + " base model without the adapter", version.version());
            }
            adapter = Map.of();
            scaling = new LoraScaling(1, 1, false);
        }
        int maxSeqLen = plan != null && plan.getMaxSeqLen() > 1 ? plan.getMaxSeqLen() : DEFAULT_MAX_SEQ_LEN;
        JsonlDataset data = Tokenizers.with(version.dir(), t -> JsonlDataset.read(props.evalFile(), t, maxSeqLen,
                TrainingJob.badLinePolicy(props)));
        long start = System.nanoTime();
        EvalResult result = evaluator.evaluate(base, adapter, scaling, data);
        double seconds = (System.nanoTime() - start) / 1e9;
        log.info("round {}: version {} evaluated on {} examples: loss {}, accuracy {} ({} s)", task.getRound(),
                version.version(), result.numExamples(), result.loss(), result.accuracy(), String.format(java.util.Locale.ROOT, "%.2f", seconds));
        return EvaluationReport.newBuilder()
                .setFederationId(task.getFederationId()).setRound(task.getRound()).setModelVersion(version.version())
                .setNumExamples(result.numExamples()).setLoss(result.loss()).setAccuracy(result.accuracy())
                .putMetrics("eval_seconds", seconds)
                .build();
    }
}
