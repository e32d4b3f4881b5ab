package io.fedlora.coordinator.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.clientapi.ClientApiException;
import io.grpc.Status;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;
import org.springframework.dao.DataIntegrityViolationException;

/** Client-caused failures never surface as INTERNAL or UNKNOWN; coordinator bugs do, without details. */
class GrpcStatusMapperTest {

    @Test
    void everyClientApiKindHasItsOwnCode() {
        for (ClientApiException.Kind kind : ClientApiException.Kind.values()) {
            Status s = GrpcStatusMapper.toStatus(new ClientApiException(kind, "why"), "M").getStatus();
            assertThat(s.getCode().name()).isEqualTo(kind.name());
            assertThat(s.getDescription()).isEqualTo("why");
        }
    }

    @Test
    void aDatabaseDataExceptionFromARequestValueIsInvalidArgument() {
        var e = new DataIntegrityViolationException("PreparedStatementCallback; bad SQL",
                new SQLException("ERROR: invalid byte sequence for encoding \"UTF8\": 0x00\n  Where: parameter $1", "22021"));
        Status s = GrpcStatusMapper.toStatus(e, "Heartbeat").getStatus();
        assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(s.getDescription()).contains("cannot be stored").contains("0x00").doesNotContain("Where");
    }

    @Test
    void anythingElseIsInternalWithoutDetails() {
        Status s = GrpcStatusMapper.toStatus(new IllegalStateException("secret detail"), "GetTask").getStatus();
        assertThat(s.getCode()).isEqualTo(Status.Code.INTERNAL);
        assertThat(s.getDescription()).doesNotContain("secret detail");
        var constraint = new DataIntegrityViolationException("x", new SQLException("duplicate key", "23505"));
        assertThat(GrpcStatusMapper.toStatus(constraint, "M").getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
    }
}
