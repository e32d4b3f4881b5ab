package io.fedlora.agent.daemon.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fedlora.agent.daemon.AgentProperties;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class RetrierTest {

    final Retrier retrier = new Retrier(new AgentProperties.Retry(Duration.ofMillis(100), Duration.ofSeconds(2), 2.0,
            Duration.ofMillis(400)), "127.0.0.1:9090");

    @Test
    void delaysGrowGeometricallyWithJitterUpToTheCap() {
        for (int attempt = 0; attempt < 10; attempt++) {
            double nominal = Math.min(100 * Math.pow(2, attempt), 2000);
            for (int i = 0; i < 50; i++) {
                long d = retrier.delay(attempt).toMillis();
                assertThat(d).isBetween((long) Math.floor(nominal / 2), (long) Math.ceil(nominal));
            }
        }
    }

    @Test
    void retriesOnlyTransientStatusesAndGivesUpAfterMaxElapsed() {
        AtomicInteger calls = new AtomicInteger();
        assertThatThrownBy(() -> retrier.call("x", () -> {
            calls.incrementAndGet();
            throw Status.UNAVAILABLE.asRuntimeException();
        })).isInstanceOf(StatusRuntimeException.class);
        assertThat(calls.get()).isBetween(2, 5);

        calls.set(0);
        assertThatThrownBy(() -> retrier.call("x", () -> {
            calls.incrementAndGet();
            throw Status.INVALID_ARGUMENT.withDescription("bad shape").asRuntimeException();
        })).hasMessageContaining("bad shape");
        assertThat(calls).hasValue(1);
    }

    @Test
    void succeedsAfterTransientFailures() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        String result = retrier.callUntilAnswered("x", () -> {
            if (calls.incrementAndGet() < 3) {
                throw Status.DEADLINE_EXCEEDED.asRuntimeException();
            }
            return "ok";
        });
        assertThat(result).isEqualTo("ok");
        assertThat(calls).hasValue(3);
    }

    @Test
    void pollsWaitOutABusyCoordinatorOtherCallsDoNot() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        String result = retrier.pollUntilAnswered("GetTask", () -> {
            int n = calls.incrementAndGet();
            if (n == 1) {
                throw Status.RESOURCE_EXHAUSTED.withDescription("too many task polls").asRuntimeException();
            }
            if (n == 2) {
                throw Status.ABORTED.withDescription("superseded by a newer GetTask poll").asRuntimeException();
            }
            return "task";
        });
        assertThat(result).isEqualTo("task");
        assertThat(calls).hasValue(3);

        calls.set(0);
        assertThatThrownBy(() -> retrier.call("UploadUpdate", () -> {
            calls.incrementAndGet();
            throw Status.RESOURCE_EXHAUSTED.withDescription("upload exceeds the limit").asRuntimeException();
        })).hasMessageContaining("exceeds the limit");
        assertThat(calls).hasValue(1);
    }

    @Test
    void aPeerThatIsNotGrpcIsNotRetried() {
        AtomicInteger calls = new AtomicInteger();
        assertThatThrownBy(() -> retrier.pollUntilAnswered("GetTask", () -> {
            calls.incrementAndGet();
            throw Status.UNAVAILABLE.withCause(new IllegalStateException(
                    "First received frame was not SETTINGS. Hex dump for first 5 bytes: 485454502f")).asRuntimeException();
        })).isInstanceOf(NotGrpcServiceException.class)
                .hasMessageContaining("no gRPC service at 127.0.0.1:9090")
                .hasMessageContaining("is this the coordinator's gRPC port (default 9090)?");
        assertThat(calls).hasValue(1);
    }
}
