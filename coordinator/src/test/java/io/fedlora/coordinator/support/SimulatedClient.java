package io.fedlora.coordinator.support;

import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientGateway;
import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.clientapi.DecodedTensor;
import io.fedlora.coordinator.clientapi.EvaluationInfo;
import io.fedlora.coordinator.clientapi.TensorRole;
import io.fedlora.coordinator.clientapi.TensorSpec;
import io.fedlora.coordinator.clientapi.UpdateHeaderInfo;
import io.fedlora.coordinator.clientapi.UploadReceiptInfo;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A client agent reduced to its protocol: it talks to the real {@link ClientGateway} in-process and,
 * instead of training, answers a TRAIN task with random LoRA factors of exactly the requested shapes.
 */
public final class SimulatedClient {

    private final ClientGateway gateway;
    private final AuthenticatedClient auth;
    private final long numExamples;
    private final long seed;
    /** Factors of the last accepted update, module to (A, B). */
    private final Map<String, LoraFactors> lastFactors = new LinkedHashMap<>();

    private final String credential;

    public SimulatedClient(ClientGateway gateway, String token, String name, long numExamples, long seed) {
        this(gateway, gateway.enrol(token, name, Map.of("site", name)).credential(), numExamples, seed);
    }

    private SimulatedClient(ClientGateway gateway, String credential, long numExamples, long seed) {
        this.gateway = gateway;
        this.credential = credential;
        this.auth = gateway.authenticate(credential);
        this.numExamples = numExamples;
        this.seed = seed;
        gateway.heartbeat(auth, "idle", -1, "test");
    }

    /** The same client (same credential) talking to another coordinator instance, e.g. after a restart. */
    public SimulatedClient reconnect(ClientGateway other) {
        return new SimulatedClient(other, credential, numExamples, seed);
    }

    public AuthenticatedClient auth() {
        return auth;
    }

    public String id() {
        return auth.clientId();
    }

    public long numExamples() {
        return numExamples;
    }

    public Map<String, LoraFactors> lastFactors() {
        return lastFactors;
    }

    public Optional<ClientTask> poll(Duration wait) {
        return gateway.pollTask(auth, -1, wait);
    }

    /** Polls until a task of {@code kind} arrives (or fails after {@code wait}). */
    public ClientTask awaitTask(ClientTask.Kind kind, Duration wait) {
        long end = System.nanoTime() + wait.toNanos();
        while (System.nanoTime() < end) {
            Optional<ClientTask> t = gateway.pollTask(auth, -1, Duration.ofMillis(500));
            if (t.isPresent() && t.get().kind() == kind) {
                return t.get();
            }
        }
        throw new AssertionError(auth.clientName() + " got no " + kind + " task within " + wait);
    }

    /** A header and tensors for {@code task} with random factors; {@code mutate} may spoil them. */
    public Upload prepare(ClientTask task) {
        Nd4j.getRandom().setSeed(seed * 31 + task.round());
        Map<String, DecodedTensor> tensors = new LinkedHashMap<>();
        Map<String, INDArray> as = new LinkedHashMap<>();
        Map<String, INDArray> bs = new LinkedHashMap<>();
        for (TensorSpec s : task.expectedUpdate()) {
            INDArray v = Nd4j.randn(DataType.FLOAT, s.shape()).muli(0.3);
            tensors.put(s.name(), new DecodedTensor(s, sha(v), v));
            (s.role() == TensorRole.LORA_A ? as : bs).put(s.module(), v);
        }
        Map<String, LoraFactors> factors = new LinkedHashMap<>();
        as.forEach((m, a) -> factors.put(m, new LoraFactors(a, bs.get(m))));
        UpdateHeaderInfo header = new UpdateHeaderInfo(task.federationId(), task.round(), UUID.randomUUID().toString(),
                numExamples, task.modelVersion(), List.copyOf(task.expectedUpdate()), Map.of("train_loss", 2.0 + seed));
        return new Upload(header, tensors, factors);
    }

    public UploadReceiptInfo upload(Upload u) {
        gateway.checkUpload(auth, u.header());
        UploadReceiptInfo r = gateway.acceptUpload(auth, u.header(), uploadSha(u.tensors()), u.tensors());
        lastFactors.clear();
        lastFactors.putAll(u.factors());
        return r;
    }

    /** Waits for TRAIN and uploads random factors. */
    public UploadReceiptInfo trainOnce(Duration wait) {
        return upload(prepare(awaitTask(ClientTask.Kind.TRAIN, wait)));
    }

    public boolean evaluate(ClientTask task, double loss, double accuracy) {
        return gateway.recordEvaluation(auth, new EvaluationInfo(task.federationId(), task.round(), task.modelVersion(),
                numExamples, loss, accuracy, Map.of()));
    }

    /** sha256 over all tensors' bytes in header order, as the agent's trailer declares it. */
    static String uploadSha(Map<String, DecodedTensor> tensors) {
        try {
            MessageDigest whole = MessageDigest.getInstance("SHA-256");
            tensors.values().forEach(t -> whole.update(SafetensorsWriter.toBytes(t.values(),
                    io.fedlora.aggregation.safetensors.DType.F32)));
            return HexFormat.of().formatHex(whole.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String sha(INDArray v) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(SafetensorsWriter.toBytes(v, io.fedlora.aggregation.safetensors.DType.F32)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A prepared update. */
    public record Upload(UpdateHeaderInfo header, Map<String, DecodedTensor> tensors, Map<String, LoraFactors> factors) {
        public Upload withHeader(UpdateHeaderInfo h) {
            return new Upload(h, tensors, factors);
        }

        public Upload withTensors(Map<String, DecodedTensor> t) {
            return new Upload(header, t, factors);
        }
    }
}
