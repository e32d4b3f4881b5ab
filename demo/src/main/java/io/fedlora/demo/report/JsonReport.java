package io.fedlora.demo.report;

import java.util.List;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.fedlora.demo.cli.DemoOptions;

/**
 * The machine-readable result of {@code ./fedlora demo --json}: one JSON object on one line with the
 * configuration and a {@code rounds} array (or, with {@code --compare}, a {@code runs} array of such runs).
 * Missing metrics are JSON {@code null}.
 */
public final class JsonReport {

    private final ObjectMapper mapper;

    public JsonReport(ObjectMapper mapper) {
        this.mapper = mapper;
    }

    /** As {@link #build(DemoOptions, List, String, boolean)} for a work directory that was kept. */
    public ObjectNode build(DemoOptions options, List<RunResult> runs, String workDir) {
        return build(options, runs, workDir, true);
    }

    /**
     * The report; {@code workDirKept} false says {@code work_dir} and the {@code export_dir}s were removed after the
     * run (no {@code --keep}), so a script knows not to look there.
     */
    public ObjectNode build(DemoOptions options, List<RunResult> runs, String workDir, boolean workDirKept) {
        ObjectNode root = mapper.createObjectNode();
        ObjectNode config = root.putObject("configuration");
        config.put("clients", options.clients());
        config.put("rounds", options.rounds());
        config.put("strategy", options.compare() ? "compare" : options.strategy());
        config.put("seed", options.seed());
        config.put("local_steps", options.localSteps());
        config.put("family", options.family());
        config.put("learning_rate", options.learningRate());
        root.put("work_dir", workDir);
        root.put("work_dir_kept", workDirKept);
        if (options.compare()) {
            ArrayNode array = root.putArray("runs");
            runs.forEach(run -> fillRun(array.addObject(), run));
        } else if (!runs.isEmpty()) {
            fillRun(root, runs.get(0));
        }
        return root;
    }

    /** The report as a single line. */
    public String line(DemoOptions options, List<RunResult> runs, String workDir) {
        return line(options, runs, workDir, true);
    }

    /** The report as a single line. */
    public String line(DemoOptions options, List<RunResult> runs, String workDir, boolean workDirKept) {
        return build(options, runs, workDir, workDirKept).toString();
    }

    private static void fillRun(ObjectNode node, RunResult run) {
        node.put("strategy", run.strategy());
        node.put("federation_id", run.federationId());
        node.put("status", run.status());
        node.put("duration_s", Math.round(run.durationSeconds() * 10) / 10.0);
        node.put("export_dir", run.exportDir().map(Object::toString).orElse(null));
        ArrayNode rounds = node.putArray("rounds");
        for (RoundResult r : run.rounds()) {
            ObjectNode o = rounds.addObject();
            o.put("round", r.round());
            o.put("participants", r.participants());
            o.put("selected", r.selected());
            o.put("exactness_rel_error", r.exactnessRelError());
            o.put("fedavg_deviation_rel", r.fedavgDeviationRel());
            o.put("eval_loss", r.evalLoss());
            o.put("eval_accuracy", r.evalAccuracy());
            o.put("train_loss", r.trainLoss());
            o.put("aggregate_ms", r.aggregateMs());
            o.put("bytes_down", r.bytesDown() == null ? null : Math.round(r.bytesDown()));
            o.put("bytes_up", r.bytesUp() == null ? null : Math.round(r.bytesUp()));
        }
    }
}
