package io.fedlora.agent.daemon;

import io.fedlora.agent.daemon.cache.CachedVersion;
import io.fedlora.agent.daemon.cache.ModelCache;
import io.fedlora.agent.daemon.cache.ModelDownloader;
import io.fedlora.agent.daemon.cache.ModelIntegrityException;
import io.fedlora.agent.daemon.transport.CoordinatorClient;
import io.fedlora.agent.daemon.transport.NotGrpcServiceException;
import io.fedlora.agent.daemon.transport.Retrier;
import io.fedlora.agent.daemon.upload.UpdateUploader;
import io.fedlora.agent.daemon.upload.UploadOutcome;
import io.fedlora.agent.daemon.work.EvaluationJob;
import io.fedlora.agent.daemon.work.TrainingJob;
import io.fedlora.proto.v1.EvaluationAck;
import io.fedlora.proto.v1.TaskKind;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.TrainingPlan;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's life: enrol (once), start heartbeats, deliver an update a previous run left pending, then
 * long-poll for tasks and run them until the coordinator says DONE or the agent is stopped (interrupt).
 * A task that fails is logged and the loop goes on; only a refused credential ends the agent with an error.
 */
public final class TaskLoop {

    /** Process exit status when the federation ended or the agent was stopped. */
    public static final int EXIT_OK = 0;
    /** Process exit status when the coordinator refuses this agent (revoked, unknown credential, bad token); 2 is the command line's. */
    public static final int EXIT_REFUSED = 3;
    /** Process exit status when the agent cannot start (configuration, disk). */
    public static final int EXIT_BROKEN = 1;

    private static final Logger log = LoggerFactory.getLogger(TaskLoop.class);

    private final AgentProperties props;
    private final CoordinatorClient client;
    private final Enroller enroller;
    private final ModelCache cache;
    private final ModelDownloader downloader;
    private final UpdateUploader uploader;
    private final Heartbeats heartbeats;
    private final AgentStatus status;
    private final TrainingJob training;
    private final EvaluationJob evaluation;
    private TrainingPlan lastPlan;

    public TaskLoop(AgentProperties props, CoordinatorClient client, Enroller enroller, ModelCache cache,
                    ModelDownloader downloader, UpdateUploader uploader, Heartbeats heartbeats, AgentStatus status,
                    TrainingJob training, EvaluationJob evaluation) {
        this.props = props;
        this.client = client;
        this.enroller = enroller;
        this.cache = cache;
        this.downloader = downloader;
        this.uploader = uploader;
        this.heartbeats = heartbeats;
        this.status = status;
        this.training = training;
        this.evaluation = evaluation;
    }

    /** Runs until DONE, a stop (interrupt) or a refusal; returns the process exit status. */
    public int run() {
        StoredCredential credential;
        try {
            checkDataDir();
            credential = enroller.ensureEnrolled();
            downloader.recover();
            status.cachedVersion(cache.newestVersion(credential.federationId()));
            heartbeats.start();
            uploader.resumePending();
            return loop(credential);
        } catch (InterruptedException | CancellationException e) {
            log.info("agent stopped");
            return EXIT_OK;
        } catch (StatusRuntimeException e) {
            if (Retrier.isRetryable(e.getStatus())) {
                log.error("the coordinator stayed unreachable: {}", reason(e.getStatus()));
                return EXIT_BROKEN;
            }
            log.error("the coordinator refused this agent: {}{}", reason(e.getStatus()),
                    e.getStatus().getCode() == Status.Code.ALREADY_EXISTS
                            ? " (give each agent its own --name / fedlora.agent.name; the default is the host name)" : "");
            return EXIT_REFUSED;
        } catch (NotGrpcServiceException e) {
            log.error("{}", e.getMessage());
            return EXIT_BROKEN;
        } catch (IOException | RuntimeException e) {
            log.error("agent cannot go on: {}", e.getMessage(), e);
            return EXIT_BROKEN;
        } finally {
            heartbeats.close();
            status.state("stopped");
        }
    }

    private int loop(StoredCredential credential) throws InterruptedException {
        while (!Thread.currentThread().isInterrupted()) {
            if (uploader.hasPending()) {
                uploader.resumePending();
            }
            status.state("idle");
            TaskResponse task = client.getTask(status.cachedVersion());
            switch (task.getKind()) {
                case WAIT -> { }
                case DONE -> {
                    log.info("federation {} ended: {}", task.getFederationId(),
                            task.getReason().isEmpty() ? "(no reason given)" : task.getReason());
                    return EXIT_OK;
                }
                case TRAIN, EVALUATE -> runTask(task, credential);
                default -> {
                    log.warn("coordinator answered GetTask with unknown task kind {}; polling again later", task.getKindValue());
                    pause();
                }
            }
        }
        throw new InterruptedException("stopped");
    }

    private void runTask(TaskResponse task, StoredCredential credential) throws InterruptedException {
        String what = task.getKind() + " round " + task.getRound() + " (version " + task.getModelVersion() + ")";
        if (task.getDeadlineUnixMs() > 0 && status.serverNowMs() > task.getDeadlineUnixMs()) {
            log.warn("{}: deadline already passed, skipping", what);
            return;
        }
        try {
            status.state("downloading version " + task.getModelVersion());
            CachedVersion version = downloader.ensure(task.getFederationId(), task.getModelVersion());
            status.cachedVersion(Math.max(status.cachedVersion(), version.version()));
            if (task.getKind() == TaskKind.TRAIN) {
                lastPlan = task.getPlan();
                status.state("training round " + task.getRound());
                UploadOutcome outcome = training.run(task, version, credential.seedIdentity());
                log.info("{}: update {}", what, outcome.kind().name().toLowerCase(java.util.Locale.ROOT));
            } else {
                status.state("evaluating version " + task.getModelVersion());
                EvaluationAck ack = client.reportEvaluation(evaluation.run(task, version, Optional.ofNullable(lastPlan)));
                log.info("{}: evaluation reported{}", what, ack.getDuplicate() ? " (already known)" : "");
            }
        } catch (StatusRuntimeException e) {
            Status.Code code = e.getStatus().getCode();
            if (code == Status.Code.UNAUTHENTICATED || code == Status.Code.PERMISSION_DENIED) {
                throw e;
            }
            log.error("{} failed: coordinator answered {}", what, reason(e.getStatus()));
            pause();
        } catch (ModelIntegrityException e) {
            log.error("{} failed: model download refused: {}", what, e.getMessage());
            pause();
        } catch (IOException e) {
            log.error("{} failed: {}", what, e.getMessage(), e);
            pause();
        } catch (CancellationException e) {
            throw e;
        } catch (RuntimeException e) {
            if (Thread.currentThread().isInterrupted()) {
                throw new InterruptedException("stopped during " + what);
            }
            log.error("{} failed: {}", what, e.getMessage(), e);
            pause();
        }
    }

    /** Fails fast on a node that could never train, instead of failing every task it is given. */
    private void checkDataDir() {
        if (!java.nio.file.Files.isRegularFile(props.trainFile())) {
            throw new IllegalStateException("no training data: " + props.trainFile() + " does not exist");
        }
        if (!java.nio.file.Files.isRegularFile(props.evalFile())) {
            log.warn("no evaluation data: {} does not exist; EVALUATE tasks will fail", props.evalFile());
        }
    }

    /** Waits before polling again after a failed task, so a persistent fault does not become a hot loop. */
    private void pause() throws InterruptedException {
        Thread.sleep(props.retry().maxBackoff().toMillis());
    }

    private static String reason(Status status) {
        return Retrier.describe(status);
    }
}
