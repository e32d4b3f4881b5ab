package io.fedlora.agent.daemon.transport;

import io.grpc.CallCredentials;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * Adds {@code authorization: Bearer <credential>} to every authenticated call. The credential is read at
 * call time, so enrolling (or re-enrolling) takes effect without rebuilding stubs.
 */
final class BearerCredentials extends CallCredentials {

    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final Supplier<String> credential;

    BearerCredentials(Supplier<String> credential) {
        this.credential = credential;
    }

    @Override
    public void applyRequestMetadata(RequestInfo requestInfo, Executor appExecutor, MetadataApplier applier) {
        String value = credential.get();
        if (value == null || value.isEmpty()) {
            applier.fail(Status.UNAUTHENTICATED.withDescription("agent has no credential yet: enrol first"));
            return;
        }
        Metadata headers = new Metadata();
        headers.put(AUTHORIZATION, "Bearer " + value);
        applier.apply(headers);
    }

    @Override
    public String toString() {
        return "BearerCredentials[****]";
    }
}
