package io.fedlora.demo.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** How the bench reads the coordinator's heartbeat histogram: buckets summed over labels, quantiles as Prometheus. */
class PrometheusHistogramTest {

    private static final String SCRAPE = """
            # HELP fedlora_grpc_heartbeat_server_seconds Heartbeat calls on the server
            # TYPE fedlora_grpc_heartbeat_server_seconds histogram
            fedlora_grpc_heartbeat_server_seconds_bucket{status="OK",le="0.1"} 80
            fedlora_grpc_heartbeat_server_seconds_bucket{status="OK",le="1.0"} 96
            fedlora_grpc_heartbeat_server_seconds_bucket{status="OK",le="2.0"} 97
            fedlora_grpc_heartbeat_server_seconds_bucket{status="OK",le="+Inf"} 98
            fedlora_grpc_heartbeat_server_seconds_count{status="OK"} 98
            fedlora_grpc_heartbeat_server_seconds_bucket{status="UNAUTHENTICATED",le="0.1"} 2
            fedlora_grpc_heartbeat_server_seconds_bucket{status="UNAUTHENTICATED",le="1.0"} 2
            fedlora_grpc_heartbeat_server_seconds_bucket{status="UNAUTHENTICATED",le="2.0"} 2
            fedlora_grpc_heartbeat_server_seconds_bucket{status="UNAUTHENTICATED",le="+Inf"} 2
            fedlora_grpc_heartbeat_queued_seconds_bucket{le="0.1"} 1
            fedlora_grpc_heartbeat_queued_seconds_bucket{le="+Inf"} 1
            """;

    @Test
    void sumsLabelSetsAndInterpolatesWithinTheBucket() {
        PrometheusHistogram h = PrometheusHistogram.parse(SCRAPE, "fedlora_grpc_heartbeat_server_seconds");
        assertThat(h.count()).isEqualTo(100);
        assertThat(h.quantile(0.5)).isCloseTo(0.1 * 50 / 82, within(1e-9));   // 82 in the first bucket
        assertThat(h.quantile(0.9)).isCloseTo(0.1 + 0.9 * 8 / 16, within(1e-9)); // rank 90: 8 of 16 into (0.1, 1]
        assertThat(h.quantile(0.99)).as("beyond the last finite bound").isEqualTo(2.0);
        assertThat(h.count() - h.atMost(2.0)).isEqualTo(1);
    }

    @Test
    void anAbsentHistogramHasNoQuantiles() {
        PrometheusHistogram h = PrometheusHistogram.parse(SCRAPE, "fedlora_grpc_other_seconds");
        assertThat(h.count()).isZero();
        assertThat(h.quantile(0.99)).isNaN();
    }
}
