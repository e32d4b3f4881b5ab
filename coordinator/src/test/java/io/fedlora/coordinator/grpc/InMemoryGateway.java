package io.fedlora.coordinator.grpc;

import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientApiException;
import io.fedlora.coordinator.clientapi.ClientGateway;
import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.clientapi.DecodedTensor;
import io.fedlora.coordinator.clientapi.Enrolment;
import io.fedlora.coordinator.clientapi.EvaluationInfo;
import io.fedlora.coordinator.clientapi.ModelBundle;
import io.fedlora.coordinator.clientapi.UpdateHeaderInfo;
import io.fedlora.coordinator.clientapi.UploadReceiptInfo;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small in-memory {@link ClientGateway} for the transport's wire tests: just enough federation logic
 * (tokens, credentials, one open round, idempotent uploads, finite-value check) to see what the
 * transport passes through and what it keeps away. The real gateway is exercised in the Spring tests.
 */
final class InMemoryGateway implements ClientGateway {

    static final String TOKEN = "enrol-me";
    static final String FEDERATION = "fed-1";

    final Map<String, AuthenticatedClient> credentials = new ConcurrentHashMap<>();
    final Set<String> revoked = ConcurrentHashMap.newKeySet();
    final Map<String, UploadReceiptInfo> receipts = new ConcurrentHashMap<>();
    final List<Map<String, DecodedTensor>> stored = new CopyOnWriteArrayList<>();
    final List<String> heartbeats = new CopyOnWriteArrayList<>();
    final Set<String> evaluations = ConcurrentHashMap.newKeySet();
    final BlockingQueue<ClientTask> tasks = new LinkedBlockingQueue<>();
    final Queue<CompletableFuture<Optional<ClientTask>>> waitingPolls = new ArrayDeque<>();
    final AtomicInteger cancelledPolls = new AtomicInteger();
    final AtomicInteger checkUploadCalls = new AtomicInteger();
    /** Uploads that reached acceptUpload (their data all received), and a latch that holds them there when set. */
    final AtomicInteger acceptEntered = new AtomicInteger();
    /** The arrays the last accepted upload was handed over with (the session's own, not copies). */
    volatile Map<String, DecodedTensor> lastAccepted;
    volatile java.util.concurrent.CountDownLatch holdAccept;
    /** Bundles looked up for downloads (the manifest-only ones not counted). */
    final AtomicInteger modelBundleCalls = new AtomicInteger();
    volatile ModelBundle bundle;
    volatile RuntimeException failAccept;
    /** While non-null, every Enrol call holds its handler thread until this opens (a slow database, say). */
    volatile java.util.concurrent.CountDownLatch enrolGate;
    /** While non-null, every Heartbeat call holds its heartbeat thread until this opens. */
    volatile java.util.concurrent.CountDownLatch heartbeatGate;

    @Override
    public Enrolment enrol(String enrolmentToken, String clientName, Map<String, String> labels) {
        java.util.concurrent.CountDownLatch gate = enrolGate;
        if (gate != null) {
            try {
                gate.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (!TOKEN.equals(enrolmentToken)) {
            throw new ClientApiException(ClientApiException.Kind.UNAUTHENTICATED, "unknown or used enrolment token");
        }
        String credential = UUID.randomUUID().toString();
        AuthenticatedClient client = new AuthenticatedClient("client-" + clientName, clientName, FEDERATION);
        credentials.put(credential, client);
        return new Enrolment(client.clientId(), credential, FEDERATION);
    }

    @Override
    public AuthenticatedClient authenticate(String credential) {
        AuthenticatedClient c = credentials.get(credential);
        if (c == null) {
            throw new ClientApiException(ClientApiException.Kind.UNAUTHENTICATED, "unknown credential");
        }
        if (revoked.contains(c.clientId())) {
            throw new ClientApiException(ClientApiException.Kind.PERMISSION_DENIED, "client was revoked");
        }
        return c;
    }

    @Override
    public void heartbeat(AuthenticatedClient client, String state, long cachedModelVersion, String device) {
        java.util.concurrent.CountDownLatch gate = heartbeatGate;
        if (gate != null) {
            try {
                gate.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        heartbeats.add(client.clientId() + ":" + state);
    }

    /** Answers the longest-waiting poll with {@code task}, or keeps it for the next poll. */
    void offer(ClientTask task) {
        synchronized (waitingPolls) {
            CompletableFuture<Optional<ClientTask>> p;
            while ((p = waitingPolls.poll()) != null) {
                if (p.complete(Optional.of(task))) {
                    return;
                }
            }
            tasks.add(task);
        }
    }

    @Override
    public CompletableFuture<Optional<ClientTask>> startTaskPoll(AuthenticatedClient client, long cachedModelVersion,
            Duration maxWait) {
        CompletableFuture<Optional<ClientTask>> poll = new CompletableFuture<>();
        synchronized (waitingPolls) {
            ClientTask queued = tasks.poll();
            if (queued != null) {
                poll.complete(Optional.of(queued));
                return poll;
            }
            waitingPolls.add(poll);
        }
        poll.completeOnTimeout(Optional.empty(), maxWait.toMillis(), TimeUnit.MILLISECONDS);
        poll.whenComplete((task, error) -> {
            synchronized (waitingPolls) {
                waitingPolls.remove(poll);
            }
            if (poll.isCancelled()) {
                cancelledPolls.incrementAndGet();
            }
        });
        return poll;
    }

    @Override
    public ModelBundle modelBundle(AuthenticatedClient client, String federationId, long version, long haveVersion) {
        modelBundleCalls.incrementAndGet();
        return lookUp(version);
    }

    private ModelBundle lookUp(long version) {
        ModelBundle b = bundle;
        if (b == null || b.modelVersion() != version) {
            throw new ClientApiException(ClientApiException.Kind.NOT_FOUND, "no model version " + version);
        }
        return b;
    }

    @Override
    public ModelBundle modelManifest(AuthenticatedClient client, String federationId, long version, long haveVersion) {
        return lookUp(version);
    }

    @Override
    public Optional<UploadReceiptInfo> checkUpload(AuthenticatedClient client, UpdateHeaderInfo header) {
        checkUploadCalls.incrementAndGet();
        if (header.round() != 1) {
            throw new ClientApiException(ClientApiException.Kind.FAILED_PRECONDITION,
                    "round " + header.round() + " is not collecting updates");
        }
        UploadReceiptInfo earlier = receipts.get(key(client, header));
        return Optional.ofNullable(earlier).map(r -> new UploadReceiptInfo(r.updateId(), true, r.bytesReceived()));
    }

    @Override
    public UploadReceiptInfo acceptUpload(AuthenticatedClient client, UpdateHeaderInfo header, String uploadSha256,
            Map<String, DecodedTensor> tensors) {
        acceptEntered.incrementAndGet();
        java.util.concurrent.CountDownLatch hold = holdAccept;
        if (hold != null) {
            try {
                hold.await(30, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (failAccept != null) {
            throw failAccept;
        }
        long bytes = 0;
        for (DecodedTensor t : tensors.values()) {
            boolean finite = true;
            for (float v : t.values().dup().data().asFloat()) {
                finite &= Float.isFinite(v);
            }
            if (!finite) {
                throw new ClientApiException(ClientApiException.Kind.INVALID_ARGUMENT,
                        "tensor '" + t.spec().name() + "' holds non-finite values");
            }
            bytes += t.values().length() * 4;
        }
        UploadReceiptInfo receipt = new UploadReceiptInfo(UUID.randomUUID().toString(), false, bytes);
        UploadReceiptInfo earlier = receipts.putIfAbsent(key(client, header), receipt);
        if (earlier != null) {
            return new UploadReceiptInfo(earlier.updateId(), true, earlier.bytesReceived());
        }
        // the upload frees the decoded arrays once this returns: keep copies, as a real gateway's listeners do
        Map<String, DecodedTensor> kept = new java.util.LinkedHashMap<>();
        tensors.forEach((k, t) -> kept.put(k, new DecodedTensor(t.spec(), t.sha256(), t.values().dup())));
        lastAccepted = tensors;
        stored.add(kept);
        return receipt;
    }

    @Override
    public boolean recordEvaluation(AuthenticatedClient client, EvaluationInfo evaluation) {
        return evaluations.add(client.clientId() + "/" + evaluation.modelVersion());
    }

    private static String key(AuthenticatedClient client, UpdateHeaderInfo header) {
        return client.clientId() + "/" + header.round() + "/" + header.uploadId();
    }
}
