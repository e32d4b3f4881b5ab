package io.fedlora.it.support;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.fedlora.proto.v1.EnrolRequest;
import io.fedlora.proto.v1.EnrolResponse;
import io.fedlora.proto.v1.EvaluationAck;
import io.fedlora.proto.v1.EvaluationReport;
import io.fedlora.proto.v1.FederationGrpc;
import io.fedlora.proto.v1.HeartbeatRequest;
import io.fedlora.proto.v1.HeartbeatResponse;
import io.fedlora.proto.v1.TaskRequest;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.UpdateChunk;
import io.fedlora.proto.v1.UploadReceipt;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;

/**
 * A bare grpc-java client of the wire protocol (generated stubs from {@code fedlora-proto}, no agent
 * code), for sending exactly the messages a test wants, malformed ones included.
 */
public final class RawFederationClient implements AutoCloseable {

    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final ManagedChannel channel;

    public RawFederationClient(String address) {
        this.channel = ManagedChannelBuilder.forTarget(address).usePlaintext().build();
    }

    public EnrolResponse enrol(String token, String name) {
        return FederationGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
                .enrol(EnrolRequest.newBuilder().setEnrolmentToken(token).setClientName(name).build());
    }

    /** Long-polls for a task as the client with {@code credential}. */
    public TaskResponse task(String credential, int waitMs) {
        return FederationGrpc.newBlockingStub(channel).withCallCredentials(bearer(credential))
                .withDeadlineAfter(waitMs + 30_000L, TimeUnit.MILLISECONDS)
                .getTask(TaskRequest.newBuilder().setWaitMs(waitMs).setCachedModelVersion(-1).build());
    }

    /** How an upload's stream ends on the client's side. */
    public enum Cut {
        /** Every chunk, half-close, wait for the receipt. */
        NONE,
        /** The call is cancelled (RST_STREAM) after half of the chunks: the server has header and part of the data. */
        MID_STREAM,
        /** Every chunk and the half-close, then the call is cancelled at once: the receipt, if any, is lost. */
        AFTER_TRAILER
    }

    /**
     * Streams {@code chunks} as one UploadUpdate call; {@code credential} null sends no authorization.
     * Returns the receipt or throws the call's {@link StatusRuntimeException}.
     */
    public UploadReceipt upload(String credential, List<UpdateChunk> chunks) {
        return upload(credential, chunks, Cut.NONE);
    }

    /** As {@link #upload(String, List)}, the stream ended as {@code cut} says (a cut call ends CANCELLED). */
    public UploadReceipt upload(String credential, List<UpdateChunk> chunks, Cut cut) {
        FederationGrpc.FederationStub stub = FederationGrpc.newStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
        if (credential != null) {
            stub = stub.withCallCredentials(bearer(credential));
        }
        CompletableFuture<UploadReceipt> result = new CompletableFuture<>();
        CompletableFuture<ClientCallStreamObserver<UpdateChunk>> call = new CompletableFuture<>();
        StreamObserver<UpdateChunk> requests = stub.uploadUpdate(new ClientResponseObserver<UpdateChunk, UploadReceipt>() {
            private UploadReceipt receipt;

            @Override
            public void beforeStart(ClientCallStreamObserver<UpdateChunk> stream) {
                call.complete(stream);
            }

            @Override
            public void onNext(UploadReceipt value) {
                receipt = value;
            }

            @Override
            public void onError(Throwable t) {
                result.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                result.complete(receipt);
            }
        });
        int cutAfter = cut == Cut.MID_STREAM ? Math.max(1, chunks.size() / 2) : chunks.size();
        try {
            List<UpdateChunk> sent = new ArrayList<>(chunks);
            for (int i = 0; i < cutAfter; i++) {
                if (result.isDone()) {
                    break;
                }
                requests.onNext(sent.get(i));
            }
            if (cut == Cut.MID_STREAM) {
                call.join().cancel("test client cuts the upload mid-stream", null);
            } else {
                requests.onCompleted();
                if (cut == Cut.AFTER_TRAILER) {
                    call.join().cancel("test client drops the call before the receipt", null);
                }
            }
        } catch (RuntimeException e) {
            // the server may already have closed the call; its status arrives through the observer
        }
        try {
            return result.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof StatusRuntimeException s) {
                throw s;
            }
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (TimeoutException e) {
            throw new IllegalStateException("upload got no answer within 60 s", e);
        }
    }

    /** A heartbeat as the client with {@code credential}. */
    public HeartbeatResponse heartbeat(String credential, String state) {
        return FederationGrpc.newBlockingStub(channel).withCallCredentials(bearer(credential))
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .heartbeat(HeartbeatRequest.newBuilder().setState(state).setCachedModelVersion(-1).build());
    }

    /** Reports an evaluation of {@code task}'s model version as the client with {@code credential}. */
    public EvaluationAck reportEvaluation(String credential, TaskResponse task, long numExamples, double loss,
                                          double accuracy) {
        return FederationGrpc.newBlockingStub(channel).withCallCredentials(bearer(credential))
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .reportEvaluation(EvaluationReport.newBuilder().setFederationId(task.getFederationId())
                        .setRound(task.getRound()).setModelVersion(task.getModelVersion()).setNumExamples(numExamples)
                        .setLoss(loss).setAccuracy(accuracy).build());
    }

    /**
     * Sends {@code frames} as raw UploadUpdate messages (bytes that need not be valid protobuf) and returns the
     * status the call closed with.
     */
    public io.grpc.Status uploadRawFrames(String credential, List<byte[]> frames) throws Exception {
        io.grpc.MethodDescriptor.Marshaller<byte[]> bytes = new io.grpc.MethodDescriptor.Marshaller<>() {
            @Override
            public java.io.InputStream stream(byte[] value) {
                return new java.io.ByteArrayInputStream(value);
            }

            @Override
            public byte[] parse(java.io.InputStream stream) {
                try {
                    return stream.readAllBytes();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        };
        io.grpc.MethodDescriptor<byte[], byte[]> raw = io.grpc.MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(io.grpc.MethodDescriptor.MethodType.CLIENT_STREAMING)
                .setFullMethodName(FederationGrpc.getUploadUpdateMethod().getFullMethodName())
                .setRequestMarshaller(bytes).setResponseMarshaller(bytes).build();
        io.grpc.ClientCall<byte[], byte[]> call = channel.newCall(raw,
                io.grpc.CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS));
        java.util.concurrent.CompletableFuture<io.grpc.Status> closed = new java.util.concurrent.CompletableFuture<>();
        Metadata headers = new Metadata();
        headers.put(AUTHORIZATION, "Bearer " + credential);
        call.start(new io.grpc.ClientCall.Listener<>() {
            @Override
            public void onClose(io.grpc.Status status, Metadata trailers) {
                closed.complete(status);
            }
        }, headers);
        call.request(1);
        frames.forEach(call::sendMessage);
        call.halfClose();
        return closed.get(60, TimeUnit.SECONDS);
    }

    private static CallCredentials bearer(String credential) {
        return new CallCredentials() {
            @Override
            public void applyRequestMetadata(RequestInfo info, java.util.concurrent.Executor executor, MetadataApplier applier) {
                Metadata headers = new Metadata();
                headers.put(AUTHORIZATION, "Bearer " + credential);
                applier.apply(headers);
            }
        };
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
}
