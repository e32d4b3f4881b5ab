package io.fedlora.agent.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.agent.AgentApplication;
import io.fedlora.agent.model.Gpt2Config;
import io.fedlora.agent.model.Gpt2Model;
import io.fedlora.agent.model.LoraTargets;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraInit;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import io.fedlora.proto.v1.DType;
import io.fedlora.proto.v1.EvaluationReport;
import io.fedlora.proto.v1.TaskKind;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TensorRole;
import io.fedlora.proto.v1.TrainingPlan;
import io.fedlora.proto.v1.UpdateHeader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The whole daemon as {@code ./fedlora agent} runs it (Spring context, argument mapping, real trainer on a tiny
 * GPT-2) against the scripted coordinator: enrol, evaluate version 0, train two rounds (fedex, ffa), stop on DONE;
 * and a SIGTERM-style context close during long polling.
 */
class AgentDaemonTest {

    static final String FED = ScriptedCoordinator.FEDERATION;
    static final Gpt2Config CONFIG = new Gpt2Config(1, 2, 8, 32, 260, 1e-5);
    static final int RANK = 2;

    @TempDir
    Path tmp;
    ScriptedCoordinator coordinator;
    Map<String, LoraFactors> initialAdapter;

    @BeforeEach
    void start() throws Exception {
        coordinator = new ScriptedCoordinator();
        Path data = Files.createDirectories(tmp.resolve("data"));
        List<String> train = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            train.add("{\"prompt\":\"q" + i + " \",\"completion\":\"a" + (i % 3) + "\"}");
        }
        Files.write(data.resolve("train.jsonl"), train);
        Files.write(data.resolve("eval.jsonl"), List.of("{\"prompt\":\"q1 \",\"completion\":\"a1\"}",
                "{\"prompt\":\"q2 \",\"completion\":\"a2\"}", "not json", "{\"prompt\":\"q3 \",\"completion\":\"a0\"}"));
        serveInitialModel();
    }

    @AfterEach
    void stop() throws Exception {
        coordinator.close();
    }

    private void serveInitialModel() throws Exception {
        Gpt2Model model = Gpt2Model.initialise(CONFIG, 3);
        Path dir = tmp.resolve("init");
        model.save(dir);
        List<ScriptedCoordinator.BundleTensor> tensors = new ArrayList<>();
        model.weights().forEach((k, v) -> tensors.add(TestSupport.tensor(k, TensorRole.BASE, v.shape(), v.data().asFloat())));
        initialAdapter = new java.util.LinkedHashMap<>();
        for (LoraLayer layer : LoraTargets.resolve(CONFIG, List.of("c_attn"), RANK, new LoraScaling(4, RANK, false))) {
            LoraFactors f = LoraInit.init(layer, 42);
            initialAdapter.put(layer.module(), f);
            tensors.add(lora(layer.module() + ".lora_A", layer.module(), TensorRole.LORA_A, f.a()));
            tensors.add(lora(layer.module() + ".lora_B", layer.module(), TensorRole.LORA_B, f.b()));
        }
        tensors.add(TestSupport.file("config.json", Files.readAllBytes(dir.resolve("config.json"))));
        coordinator.serve(FED, 0, -1, tensors, 4096);
    }

    private static ScriptedCoordinator.BundleTensor lora(String name, String module, TensorRole role, INDArray values) {
        ScriptedCoordinator.BundleTensor t = TestSupport.tensor(name, role, values.shape(), values.data().asFloat());
        return new ScriptedCoordinator.BundleTensor(t.meta().toBuilder().setModule(module).build(), t.bytes());
    }

    private static TrainingPlan plan(String strategy) {
        return TrainingPlan.newBuilder().addTargetModules("c_attn").setRank(RANK).setAlpha(4).setStrategy(strategy)
                .setLocalSteps(3).setBatchSize(2).setLearningRate(0.05).setMaxGradNorm(1.0).setSeed(42).setMaxSeqLen(16).build();
    }

    private static TaskResponse train(int round, String strategy) {
        TaskResponse.Builder t = TaskResponse.newBuilder().setKind(TaskKind.TRAIN).setFederationId(FED).setRound(round)
                .setModelVersion(0).setPlan(plan(strategy)).setMaxUpdateNorm(1000)
                .setDeadlineUnixMs(System.currentTimeMillis() + 600_000);
        t.addExpectedUpdate(TensorMeta.newBuilder().setName("h.0.attn.c_attn.lora_A").setModule("h.0.attn.c_attn")
                .setRole(TensorRole.LORA_A).setDtype(DType.F32).addShape(RANK).addShape(8));
        t.addExpectedUpdate(TensorMeta.newBuilder().setName("h.0.attn.c_attn.lora_B").setModule("h.0.attn.c_attn")
                .setRole(TensorRole.LORA_B).setDtype(DType.F32).addShape(24).addShape(RANK));
        return t.build();
    }

    private ConfigurableApplicationContext startAgent() {
        String[] args = AgentArguments.toSpringArgs(new String[] {
                "--coordinator", coordinator.target(), "--token=token-1", "--data", tmp.resolve("data").toString(),
                "--work-dir", tmp.resolve("work").toString(), "--name", "node-a",
                "--fedlora.agent.heartbeat-interval=200ms", "--fedlora.agent.poll-wait=300ms",
                "--fedlora.agent.retry.initial-backoff=20ms", "--fedlora.agent.retry.max-backoff=100ms"});
        return new SpringApplicationBuilder(AgentApplication.class).web(WebApplicationType.NONE).run(args);
    }

    @Test
    void evaluatesTrainsUploadsAndExitsWhenTheFederationIsDone() throws Exception {
        coordinator.tasks.add(TaskResponse.newBuilder().setKind(TaskKind.EVALUATE).setFederationId(FED).setRound(0)
                .setModelVersion(0).setPlan(plan("fedex")).build());
        coordinator.tasks.add(train(1, "fedex"));
        coordinator.tasks.add(train(2, "ffa"));

        int exit;
        try (ConfigurableApplicationContext ctx = startAgent()) {
            exit = ctx.getBean(AgentRunner.class).awaitExit();
        }
        assertThat(exit).isEqualTo(TaskLoop.EXIT_OK);
        assertThat(coordinator.enrolTokens).containsExactly("token-1");
        assertThat(coordinator.downloads).hasSize(1);
        assertThat(tmp.resolve("work/credential.json")).exists();

        assertThat(coordinator.evaluations).hasSize(1);
        EvaluationReport eval = coordinator.evaluations.get(0);
        assertThat(eval.getNumExamples()).isEqualTo(3);
        assertThat(eval.getLoss()).isPositive().isFinite();
        assertThat(eval.getAccuracy()).isBetween(0.0, 1.0);

        assertThat(coordinator.uploads).hasSize(2);
        for (ScriptedCoordinator.UploadAttempt upload : coordinator.uploads) {
            UpdateHeader h = upload.header();
            assertThat(h.getNumExamples()).isEqualTo(6);
            assertThat(h.getBaseModelVersion()).isZero();
            assertThat(h.getMetricsMap()).containsKeys("train_loss", "tokens_per_second");
            assertThat(h.getTensorsList()).extracting(TensorMeta::getName)
                    .containsExactly("h.0.attn.c_attn.lora_A", "h.0.attn.c_attn.lora_B");
            assertThat(h.getTensors(1).getShapeList()).containsExactly(24L, (long) RANK);
            // the task named no layout: the agent declares its own GPT-2 family's (Conv1D) for c_attn
            assertThat(h.getTensorsList()).extracting(TensorMeta::getLayout)
                    .containsOnly(io.fedlora.proto.v1.WeightLayout.WEIGHT_LAYOUT_CONV1D);
        }
        LoraFactors start = initialAdapter.get("h.0.attn.c_attn");
        float[] fedexA = TestSupport.fromF32(UpdateUploaderTest.reassemble(coordinator.uploads.get(0).data(), 0));
        float[] ffaA = TestSupport.fromF32(UpdateUploaderTest.reassemble(coordinator.uploads.get(1).data(), 0));
        float[] ffaB = TestSupport.fromF32(UpdateUploaderTest.reassemble(coordinator.uploads.get(1).data(), 1));
        assertThat(fedexA).as("fedex trains A").isNotEqualTo(start.a().data().asFloat());
        assertThat(ffaA).as("ffa keeps A frozen").isEqualTo(start.a().data().asFloat());
        assertThat(ffaB).as("ffa trains B away from zero").isNotEqualTo(start.b().data().asFloat());

        assertThat(coordinator.heartbeats).isNotEmpty();
        assertThat(coordinator.heartbeats.get(coordinator.heartbeats.size() - 1).getDevice()).contains("Backend").contains("threads");
        assertThat(tmp.resolve("work/pending-upload.json")).doesNotExist();
    }

    @Test
    void closingTheContextStopsTheLongPollingAgentPromptly() throws Exception {
        coordinator.waitWhenIdle = true;
        ConfigurableApplicationContext ctx = startAgent();
        AgentRunner runner = ctx.getBean(AgentRunner.class);
        long deadline = System.currentTimeMillis() + 10_000;
        while (coordinator.heartbeats.isEmpty() && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        assertThat(runner.isRunning()).isTrue();
        long start = System.nanoTime();
        ctx.close();   // what Spring's shutdown hook does on SIGTERM
        assertThat(CompletableFuture.supplyAsync(() -> {
            try {
                return runner.awaitExit();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }).get(10, TimeUnit.SECONDS)).isEqualTo(TaskLoop.EXIT_OK);
        assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(5_000);
        assertThat(runner.isRunning()).isFalse();
        try (Stream<Path> files = Files.walk(tmp.resolve("work"))) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".tmp-"));
        }
    }

    @Test
    void keepsPollingThroughACoordinatorOutageAndEndsWithExit2WhenItsCredentialIsRefused() throws Exception {
        coordinator.getTaskFailure = io.grpc.Status.UNAVAILABLE.withDescription("coordinator restarting");
        try (ConfigurableApplicationContext ctx = startAgent()) {
            AgentRunner runner = ctx.getBean(AgentRunner.class);
            Thread.sleep(600);
            assertThat(runner.isRunning()).as("still polling during the outage").isTrue();
            coordinator.getTaskFailure = io.grpc.Status.UNAUTHENTICATED.withDescription("credential revoked");
            assertThat(CompletableFuture.supplyAsync(() -> {
                try {
                    return runner.awaitExit();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }).get(10, TimeUnit.SECONDS)).isEqualTo(TaskLoop.EXIT_REFUSED);
        }
    }

    @Test
    void refusedPollsAreRetriedWithBackOffAndJitterAndTheAgentGoesOnUntilDone() throws Exception {
        // the first 12 polls are refused, as a coordinator at its limit or restarting refuses them; then DONE
        int refused = 12;
        coordinator.getTaskRefusal = n -> n >= refused ? null : n % 2 == 0
                ? io.grpc.Status.RESOURCE_EXHAUSTED.withDescription("the coordinator is serving too many task polls")
                : io.grpc.Status.UNAVAILABLE.withDescription("coordinator restarting");
        try (ConfigurableApplicationContext ctx = startAgent()) {
            int exit = CompletableFuture.supplyAsync(() -> {
                try {
                    return ctx.getBean(AgentRunner.class).awaitExit();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }).get(30, TimeUnit.SECONDS);
            assertThat(exit).as("refusals are no reason to exit: the agent reached DONE").isEqualTo(TaskLoop.EXIT_OK);
        }
        List<Long> at = coordinator.getTaskArrivals;
        assertThat(at).as("every refused poll was repeated, then DONE ended the agent").hasSize(refused + 1);
        // back-off 20 ms doubling to the 100 ms cap (startAgent), each wait drawn uniformly from [d/2, d]
        long cap = 100;
        List<Long> gaps = new ArrayList<>();
        for (int i = 0; i < refused; i++) {
            gaps.add(TimeUnit.NANOSECONDS.toMillis(at.get(i + 1) - at.get(i)));
        }
        for (int i = 0; i < refused; i++) {
            long nominal = Math.min(cap, 20L << i);
            assertThat(gaps.get(i)).as("wait after refusal %d is at least half the back-off %d ms (gaps %s)",
                    i + 1, nominal, gaps).isGreaterThanOrEqualTo(nominal / 2);
        }
        // 9 waits at the cap: without jitter each is >= 100 ms; with it, all 9 at >= 95 ms (sleep plus the
        // call's few ms) is about 0.3^9 likely
        List<Long> atCap = gaps.subList(3, refused);
        assertThat(atCap.stream().mapToLong(Long::longValue).min().orElseThrow())
                .as("jittered below the cap, not lock-step: %s", gaps).isLessThan(cap - 5);
    }

    @Test
    @org.junit.jupiter.api.extension.ExtendWith(org.springframework.boot.test.system.OutputCaptureExtension.class)
    void aNameAlreadyTakenEndsWithExit2AndSaysToGiveEachAgentItsOwnName(
            org.springframework.boot.test.system.CapturedOutput output) throws Exception {
        coordinator.enrolFailure = io.grpc.Status.ALREADY_EXISTS
                .withDescription("a client named 'node-a' is already enrolled in federation " + FED);
        try (ConfigurableApplicationContext ctx = startAgent()) {
            assertThat(ctx.getBean(AgentRunner.class).awaitExit()).isEqualTo(TaskLoop.EXIT_REFUSED);
        }
        assertThat(output.getAll()).contains("already enrolled", "give each agent its own --name");
        assertThat(tmp.resolve("work/credential.json")).doesNotExist();
    }

    @Test
    void closingTheContextDuringTrainingAbandonsTheRoundWithoutLeavingAPendingUpload() throws Exception {
        coordinator.waitWhenIdle = true;
        TaskResponse longTask = train(1, "fedex").toBuilder()
                .setPlan(plan("fedex").toBuilder().setLocalSteps(100_000)).build();
        coordinator.tasks.add(longTask);
        ConfigurableApplicationContext ctx = startAgent();
        AgentRunner runner = ctx.getBean(AgentRunner.class);
        long deadline = System.currentTimeMillis() + 20_000;
        while (coordinator.heartbeats.stream().noneMatch(h -> h.getState().contains("step"))
                && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        // a heartbeat during training reports progress and the version just cached
        assertThat(coordinator.heartbeats).anySatisfy(h -> {
            assertThat(h.getState()).matches("training round 1 step \\d+/100000");
            assertThat(h.getCachedModelVersion()).isZero();
        });
        long start = System.nanoTime();
        ctx.close();
        assertThat(runner.isRunning()).isFalse();
        assertThat(runner.awaitExit()).isEqualTo(TaskLoop.EXIT_OK);
        assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(10_000);
        assertThat(coordinator.uploads).isEmpty();
        assertThat(tmp.resolve("work/pending-upload.json")).doesNotExist();
    }
}
