package io.fedlora.coordinator.grpc;

import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientGateway;
import io.fedlora.coordinator.clientapi.Enrolment;
import io.fedlora.coordinator.clientapi.ModelBundle;
import io.fedlora.proto.v1.DownloadRequest;
import io.fedlora.proto.v1.EnrolRequest;
import io.fedlora.proto.v1.EnrolResponse;
import io.fedlora.proto.v1.EvaluationAck;
import io.fedlora.proto.v1.EvaluationReport;
import io.fedlora.proto.v1.FederationGrpc;
import io.fedlora.proto.v1.HeartbeatRequest;
import io.fedlora.proto.v1.HeartbeatResponse;
import io.fedlora.proto.v1.ModelChunk;
import io.fedlora.proto.v1.TaskRequest;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.UpdateChunk;
import io.fedlora.proto.v1.UploadReceipt;
import io.fedlora.proto.v1.UploadReply;
import io.grpc.BindableService;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.function.Supplier;
import org.springframework.stereotype.Service;

/**
 * The Federation gRPC service: translates wire messages to {@link ClientGateway} calls and failures to
 * statuses. Streaming work is delegated to {@link TaskPoller}, {@link BundleStreamer} and
 * {@link UploadSession}; authentication happened before in {@link BearerAuthInterceptor}.
 */
@Service
public class FederationGrpcService implements FederationGrpc.AsyncService, BindableService {

    private final ClientGateway gateway;
    private final TaskPoller poller;
    private final GrpcMetrics metrics;
    private final GrpcTransportProperties properties;
    private final DownloadSlots downloads;
    private final UploadAdmission uploads;

    public FederationGrpcService(ClientGateway gateway, TaskPoller poller, GrpcMetrics metrics,
            GrpcTransportProperties properties) {
        this.gateway = gateway;
        this.poller = poller;
        this.metrics = metrics;
        this.properties = properties;
        this.downloads = new DownloadSlots(properties.maxConcurrentDownloads());
        this.uploads = new UploadAdmission(properties.maxConcurrentUploads(), properties.maxUploadBytesInFlight().toBytes());
    }

    /** The service with request parsing guarded: a frame that is not a valid message answers INVALID_ARGUMENT. */
    @Override
    public ServerServiceDefinition bindService() {
        return MalformedRequestGuard.guard(FederationGrpc.bindService(this), method -> {
            if (method.equals("Upload") || method.equals("UploadUpdate")) {
                metrics.uploadRejected("malformed");
            }
        });
    }

    @Override
    public void enrol(EnrolRequest request, StreamObserver<EnrolResponse> out) {
        unary(out, "Enrol", () -> {
            if (request.getEnrolmentToken().isBlank()) {
                throw Status.INVALID_ARGUMENT.withDescription("enrolment_token is required").asRuntimeException();
            }
            if (request.getClientName().isBlank()) {
                throw Status.INVALID_ARGUMENT.withDescription("client_name is required").asRuntimeException();
            }
            Enrolment e = gateway.enrol(request.getEnrolmentToken(), request.getClientName(), request.getLabelsMap());
            return EnrolResponse.newBuilder()
                    .setClientId(e.clientId())
                    .setCredential(e.credential())
                    .setFederationId(e.federationId())
                    .build();
        });
    }

    @Override
    public void heartbeat(HeartbeatRequest request, StreamObserver<HeartbeatResponse> out) {
        HeartbeatTimer.handlerStarted();
        unary(out, "Heartbeat", () -> {
            gateway.heartbeat(BearerAuthInterceptor.currentClient(), request.getState(),
                    request.getCachedModelVersion(), request.getDevice());
            return HeartbeatResponse.newBuilder()
                    .setServerTimeUnixMs(System.currentTimeMillis())
                    .setIntervalMs((int) Math.min(Integer.MAX_VALUE, properties.heartbeatInterval().toMillis()))
                    .build();
        });
    }

    @Override
    public void getTask(TaskRequest request, StreamObserver<TaskResponse> out) {
        poller.poll(BearerAuthInterceptor.currentClient(), request, (ServerCallStreamObserver<TaskResponse>) out);
    }

    @Override
    public void downloadModel(DownloadRequest request, StreamObserver<ModelChunk> out) {
        AuthenticatedClient client = BearerAuthInterceptor.currentClient();
        if (request.getManifestOnly()) {
            // a list of digests, no tensor bytes: answered at once, outside the download slots
            ModelBundle bundle;
            try {
                bundle = gateway.modelManifest(client, request.getFederationId(), request.getModelVersion(),
                        request.getHaveVersion());
            } catch (RuntimeException e) {
                out.onError(GrpcStatusMapper.toStatus(e, "DownloadModel"));
                return;
            }
            out.onNext(ModelChunk.newBuilder().setManifest(BundleStreamer.manifest(bundle)).build());
            out.onCompleted();
            return;
        }
        // looked up once the download has a slot: one waiting its turn holds only its request
        new BundleStreamer(() -> gateway.modelBundle(client, request.getFederationId(), request.getModelVersion(),
                request.getHaveVersion()), request.getModelVersion(), (ServerCallStreamObserver<ModelChunk>) out,
                (int) properties.chunkBytes().toBytes(), client.clientId(), downloads).start();
    }

    @Override
    public StreamObserver<UpdateChunk> upload(StreamObserver<UploadReply> out) {
        return UploadSession.startAdmitted(gateway, BearerAuthInterceptor.currentClient(),
                (ServerCallStreamObserver<UploadReply>) out, metrics, properties.maxUploadBytes().toBytes(), uploads);
    }

    @Override
    public StreamObserver<UpdateChunk> uploadUpdate(StreamObserver<UploadReceipt> out) {
        return UploadSession.startLegacy(gateway, BearerAuthInterceptor.currentClient(),
                (ServerCallStreamObserver<UploadReceipt>) out, metrics, properties.maxUploadBytes().toBytes(), uploads);
    }

    @Override
    public void reportEvaluation(EvaluationReport request, StreamObserver<EvaluationAck> out) {
        unary(out, "ReportEvaluation", () -> {
            boolean recorded = gateway.recordEvaluation(BearerAuthInterceptor.currentClient(),
                    ProtoMapping.toEvaluation(request));
            return EvaluationAck.newBuilder().setDuplicate(!recorded).build();
        });
    }

    private static <T> void unary(StreamObserver<T> out, String method, Supplier<T> body) {
        T response;
        try {
            response = body.get();
        } catch (RuntimeException e) {
            out.onError(GrpcStatusMapper.toStatus(e, method));
            return;
        }
        out.onNext(response);
        out.onCompleted();
    }
}
