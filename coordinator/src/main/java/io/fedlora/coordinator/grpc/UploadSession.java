package io.fedlora.coordinator.grpc;

import io.fedlora.aggregation.lora.OffHeap;
import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientApiException;
import io.fedlora.coordinator.clientapi.ClientGateway;
import io.fedlora.coordinator.clientapi.DecodedTensor;
import io.fedlora.coordinator.clientapi.UpdateHeaderInfo;
import io.fedlora.coordinator.clientapi.UploadReceiptInfo;
import io.fedlora.proto.v1.UpdateChunk;
import io.fedlora.proto.v1.UploadAdmitted;
import io.fedlora.proto.v1.UploadQueued;
import io.fedlora.proto.v1.UploadReceipt;
import io.fedlora.proto.v1.UploadReply;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server side of one upload: header, then data chunks, then trailer, then the client's half-close. The header is
 * checked with {@link ClientGateway#checkUpload} before any data is buffered; the update is handed to
 * {@link ClientGateway#acceptUpload} only once the trailer verified and the client completed the stream, and the
 * receipt is sent only after that returned, i.e. after the update is durable. A stream that breaks off stores nothing.
 * gRPC delivers the callbacks one at a time.
 *
 * <p>Messages are requested one at a time (manual flow control): after the header the session waits for
 * {@link UploadAdmission} before it asks for the first data chunk. On the {@code Upload} call the client is told
 * ({@link Replies#admitted}) and sends nothing before, so a waiting upload holds its header only; on the older
 * {@code UploadUpdate} call it cannot be told, so its client's first chunks wait in the HTTP/2 window. Either way it
 * is slowed down, not refused.
 */
final class UploadSession implements StreamObserver<UpdateChunk> {

    private static final Logger log = LoggerFactory.getLogger(UploadSession.class);

    private enum State { AWAIT_HEADER, DUPLICATE, RECEIVING, VERIFIED, CLOSED }

    private final ClientGateway gateway;
    private final AuthenticatedClient client;
    private final ServerCallStreamObserver<?> call;
    private final Replies out;
    private final GrpcMetrics metrics;
    private final long maxUploadBytes;
    private final UploadAdmission admission;
    private UploadAdmission.Ticket ticket;

    private State state = State.AWAIT_HEADER;
    private UpdateHeaderInfo header;
    private String uploadSha256;
    private UploadAssembler assembler;
    private UploadReceiptInfo earlierReceipt;
    private long ignoredBytes;
    private Map<String, DecodedTensor> tensors;

    private UploadSession(ClientGateway gateway, AuthenticatedClient client, ServerCallStreamObserver<?> call, Replies out,
            GrpcMetrics metrics, long maxUploadBytes, UploadAdmission admission) {
        this.gateway = gateway;
        this.client = client;
        this.call = call;
        this.out = out;
        this.metrics = metrics;
        this.maxUploadBytes = maxUploadBytes;
        this.admission = admission;
    }

    /** The session of one {@code Upload} call, asking for its header; call from the service method (before it returns). */
    static UploadSession startAdmitted(ClientGateway gateway, AuthenticatedClient client,
            ServerCallStreamObserver<UploadReply> out, GrpcMetrics metrics, long maxUploadBytes,
            UploadAdmission admission) {
        return start(gateway, client, out, new AdmittingReplies(out), metrics, maxUploadBytes, admission);
    }

    /** The session of one older {@code UploadUpdate} call (receipt only), asking for its header. */
    static UploadSession startLegacy(ClientGateway gateway, AuthenticatedClient client,
            ServerCallStreamObserver<UploadReceipt> out, GrpcMetrics metrics, long maxUploadBytes,
            UploadAdmission admission) {
        return start(gateway, client, out, new ReceiptOnlyReplies(out), metrics, maxUploadBytes, admission);
    }

    private static UploadSession start(ClientGateway gateway, AuthenticatedClient client, ServerCallStreamObserver<?> call,
            Replies replies, GrpcMetrics metrics, long maxUploadBytes, UploadAdmission admission) {
        call.disableAutoRequest();
        UploadSession session = new UploadSession(gateway, client, call, replies, metrics, maxUploadBytes, admission);
        call.request(1);
        return session;
    }

    @Override
    public void onNext(UpdateChunk chunk) {
        if (state == State.CLOSED) {
            return;
        }
        try {
            switch (chunk.getPartCase()) {
                case HEADER -> onHeader(chunk);
                case DATA -> onData(chunk);
                case TRAILER -> onTrailer(chunk);
                case PART_NOT_SET -> throw UploadRejectedException.invalid("protocol",
                        "upload chunk carries neither header, data nor trailer");
            }
        } catch (RuntimeException e) {
            reject(e);
            return;
        }
        boolean awaitsAdmission = chunk.getPartCase() == UpdateChunk.PartCase.HEADER && state == State.RECEIVING;
        if (state != State.CLOSED && !awaitsAdmission) {
            call.request(1); // the next message; an upload just queued for admission is asked for its data once admitted
        }
    }

    private void onHeader(UpdateChunk chunk) {
        if (state != State.AWAIT_HEADER) {
            throw UploadRejectedException.invalid("protocol", "upload stream sent a second header");
        }
        UploadAssembler candidate = UploadAssembler.forHeader(chunk.getHeader(), maxUploadBytes);
        UpdateHeaderInfo info = ProtoMapping.toHeaderInfo(chunk.getHeader(), candidate.specs());
        header = info;
        Optional<UploadReceiptInfo> earlier = gateway.checkUpload(client, info);
        if (earlier.isPresent()) {
            earlierReceipt = earlier.get();
            log.info("Upload {} of client {} for round {} was already accepted; the retry is ignored",
                    info.uploadId(), client.clientId(), info.round());
            if (out.receiptEndsUpload()) {
                state = State.CLOSED; // told at once: its client sends no data
                out.receipt(receipt(earlierReceipt));
            } else {
                state = State.DUPLICATE;
            }
        } else {
            assembler = candidate;
            state = State.RECEIVING;
            // asks for the first data chunk once there is room: at once, or when an upload in flight ends
            ticket = admission.admit(declaredBytes(chunk), () -> {
                out.admitted();
                call.request(1);
            });
            if (!ticket.isAdmitted()) {
                out.queued(ticket.aheadWhenQueued());
            }
        }
    }

    private static long declaredBytes(UpdateChunk header) {
        return header.getHeader().getTensorsList().stream().mapToLong(t -> t.getByteSize()).sum();
    }

    private void onData(UpdateChunk chunk) {
        switch (state) {
            case AWAIT_HEADER -> throw UploadRejectedException.invalid("protocol", "upload data arrived before the header");
            case VERIFIED -> throw UploadRejectedException.invalid("protocol", "upload data arrived after the trailer");
            case DUPLICATE -> {
                ignoredBytes += chunk.getData().getData().size();
                if (ignoredBytes > maxUploadBytes) {
                    throw new UploadRejectedException("oversize", Status.Code.RESOURCE_EXHAUSTED,
                            "upload exceeds the limit of " + maxUploadBytes + " bytes");
                }
            }
            default -> assembler.append(chunk.getData());
        }
    }

    private void onTrailer(UpdateChunk chunk) {
        switch (state) {
            case AWAIT_HEADER -> throw UploadRejectedException.invalid("protocol", "upload trailer arrived before the header");
            case VERIFIED -> throw UploadRejectedException.invalid("protocol", "upload stream sent a second trailer");
            case DUPLICATE -> { }
            default -> {
                uploadSha256 = chunk.getTrailer().getUploadSha256().toLowerCase(java.util.Locale.ROOT);
                tensors = assembler.finish(uploadSha256);
                state = State.VERIFIED;
            }
        }
    }

    @Override
    public void onError(Throwable t) {
        if (state != State.CLOSED && header != null) {
            log.info("Upload {} of client {} for round {} broke off after {} bytes ({}); nothing was stored",
                    header.uploadId(), client.clientId(), header.round(),
                    assembler == null ? 0 : assembler.receivedBytes(), Status.fromThrowable(t).getCode());
        }
        release();
    }

    @Override
    public void onCompleted() {
        if (state == State.CLOSED) {
            return;
        }
        try {
            UploadReceiptInfo receipt = switch (state) {
                case AWAIT_HEADER -> throw UploadRejectedException.invalid("protocol", "upload stream ended without a header");
                case RECEIVING -> throw UploadRejectedException.invalid("protocol", "upload stream ended without a trailer");
                case DUPLICATE -> earlierReceipt;
                default -> accept();
            };
            release();
            out.receipt(receipt(receipt));
        } catch (RuntimeException e) {
            reject(e);
        }
    }

    private static UploadReceipt receipt(UploadReceiptInfo receipt) {
        return UploadReceipt.newBuilder()
                .setUpdateId(receipt.updateId())
                .setDuplicate(receipt.duplicate())
                .setBytesReceived(receipt.bytesReceived())
                .build();
    }

    private UploadReceiptInfo accept() {
        UploadReceiptInfo receipt = gateway.acceptUpload(client, header, uploadSha256, tensors);
        log.info("Accepted upload {} of client {} for federation {} round {}: {} bytes, update {}{}",
                header.uploadId(), client.clientId(), header.federationId(), header.round(),
                assembler.receivedBytes(), receipt.updateId(), receipt.duplicate() ? " (duplicate)" : "");
        return receipt;
    }

    private void reject(RuntimeException e) {
        if (!(e instanceof ClientApiException)) {
            // the gateway counts its own refusals, with its own reasons
            metrics.uploadRejected(GrpcStatusMapper.rejectionReason(e));
        }
        var status = GrpcStatusMapper.toStatus(e, out.method());
        log.info("Rejected upload {} of client {}: {} {}", header == null ? "(no header)" : header.uploadId(),
                client.clientId(), status.getStatus().getCode(), status.getStatus().getDescription());
        release();
        out.error(status);
    }

    private void release() {
        state = State.CLOSED;
        if (assembler != null) {
            assembler.discard(); // what a broken-off or refused upload received, freed now
        }
        assembler = null;
        if (tensors != null) {
            // stored and folded in (or refused): the decoded arrays' off-heap buffers are freed now; left to the
            // garbage collector, each GPT-2 upload's ~1 MB stayed allocated until a collection a quiet heap rarely
            // needs, and the coordinator's resident memory grew with the number of uploads
            tensors.values().forEach(t -> OffHeap.release(t.values()));
        }
        tensors = null;
        if (ticket != null) {
            ticket.release();
        }
    }

    /** How a session answers its client, which depends on the call. */
    private interface Replies {
        String method();

        /** Whether a receipt ends the call (so a duplicate is answered on its header). */
        boolean receiptEndsUpload();

        void queued(int ahead);

        /** May run on another upload's thread (the one whose release made room). */
        void admitted();

        void receipt(UploadReceipt receipt);

        void error(StatusRuntimeException status);
    }

    /**
     * The {@code Upload} call: queued, admitted, receipt. Synchronized because {@link #admitted} comes from another
     * upload's thread; a {@code queued} that lost the race to {@code admitted} is not sent.
     */
    private static final class AdmittingReplies implements Replies {
        private final ServerCallStreamObserver<UploadReply> out;
        private boolean admitted;
        private boolean ended;

        AdmittingReplies(ServerCallStreamObserver<UploadReply> out) {
            this.out = out;
        }

        @Override
        public String method() {
            return "Upload";
        }

        @Override
        public boolean receiptEndsUpload() {
            return true;
        }

        @Override
        public synchronized void queued(int ahead) {
            if (!admitted && !ended) {
                out.onNext(UploadReply.newBuilder().setQueued(UploadQueued.newBuilder().setAhead(ahead)).build());
            }
        }

        @Override
        public synchronized void admitted() {
            if (!ended && !out.isCancelled()) {
                admitted = true;
                out.onNext(UploadReply.newBuilder().setAdmitted(UploadAdmitted.getDefaultInstance()).build());
            }
        }

        @Override
        public synchronized void receipt(UploadReceipt receipt) {
            ended = true;
            out.onNext(UploadReply.newBuilder().setReceipt(receipt).build());
            out.onCompleted();
        }

        @Override
        public synchronized void error(StatusRuntimeException status) {
            ended = true;
            out.onError(status);
        }
    }

    /** The older {@code UploadUpdate} call: the receipt is its only message. */
    private record ReceiptOnlyReplies(ServerCallStreamObserver<UploadReceipt> out) implements Replies {
        @Override
        public String method() {
            return "UploadUpdate";
        }

        @Override
        public boolean receiptEndsUpload() {
            return false;
        }

        @Override
        public void queued(int ahead) {
        }

        @Override
        public void admitted() {
        }

        @Override
        public void receipt(UploadReceipt receipt) {
            out.onNext(receipt);
            out.onCompleted();
        }

        @Override
        public void error(StatusRuntimeException status) {
            out.onError(status);
        }
    }
}
