package io.fedlora.coordinator.grpc;

import io.fedlora.coordinator.clientapi.ClientApiException;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.sql.SQLException;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns failures into the gRPC statuses agents see: {@link ClientApiException} kinds map one-to-one with
 * their message as description, transport refusals keep their code, a database data exception caused by a
 * request value is INVALID_ARGUMENT, anything else becomes INTERNAL with a generic description (the stack
 * trace stays in the coordinator's log): no client-caused failure is INTERNAL.
 */
public final class GrpcStatusMapper {

    private static final Logger log = LoggerFactory.getLogger(GrpcStatusMapper.class);

    private GrpcStatusMapper() {}

    public static Status.Code code(ClientApiException.Kind kind) {
        return switch (kind) {
            case UNAUTHENTICATED -> Status.Code.UNAUTHENTICATED;
            case PERMISSION_DENIED -> Status.Code.PERMISSION_DENIED;
            case NOT_FOUND -> Status.Code.NOT_FOUND;
            case INVALID_ARGUMENT -> Status.Code.INVALID_ARGUMENT;
            case FAILED_PRECONDITION -> Status.Code.FAILED_PRECONDITION;
            case ALREADY_EXISTS -> Status.Code.ALREADY_EXISTS;
            case RESOURCE_EXHAUSTED -> Status.Code.RESOURCE_EXHAUSTED;
            case ABORTED -> Status.Code.ABORTED;
            case UNAVAILABLE -> Status.Code.UNAVAILABLE;
        };
    }

    /** The status to close a call with; {@code method} names the RPC in the log of unexpected failures. */
    public static StatusRuntimeException toStatus(Throwable error, String method) {
        if (error instanceof ClientApiException e) {
            return Status.fromCode(code(e.kind())).withDescription(e.getMessage()).asRuntimeException();
        }
        if (error instanceof UploadRejectedException e) {
            return Status.fromCode(e.code()).withDescription(e.getMessage()).asRuntimeException();
        }
        if (error instanceof StatusRuntimeException e) {
            return e;
        }
        if (error instanceof StatusException e) {
            return e.getStatus().asRuntimeException(e.getTrailers());
        }
        String dataError = dataException(error);
        if (dataError != null) {
            // PostgreSQL's class 22 (data exception): a value from the request the database cannot hold
            log.warn("{} refused: a request value the database cannot store ({})", method, dataError);
            return Status.INVALID_ARGUMENT.withDescription("a value in the request cannot be stored: " + dataError)
                    .asRuntimeException();
        }
        log.error("Unexpected failure in {}", method, error);
        return Status.INTERNAL.withDescription("internal error in " + method + "; see the coordinator log")
                .asRuntimeException();
    }

    /** The first line of a PostgreSQL data exception (SQLState class 22) in {@code error}'s causes, if any. */
    private static String dataException(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof SQLException e && e.getSQLState() != null && e.getSQLState().startsWith("22")) {
                String m = e.getMessage() == null ? e.getSQLState() : e.getMessage();
                return m.lines().findFirst().orElse(m);
            }
        }
        return null;
    }

    /** The {@code fedlora.updates.rejected} reason tag for an upload the transport refused or failed. */
    public static String rejectionReason(Throwable error) {
        if (error instanceof UploadRejectedException e) {
            return e.reason();
        }
        if (error instanceof ClientApiException e) {
            return e.kind().name().toLowerCase(Locale.ROOT);
        }
        return "internal";
    }
}
