package io.fedlora.demo.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The coordinator figures the bench reads out of one {@code /actuator/prometheus} scrape. */
class CoordinatorProbeTest {

    @Test
    void heapPoolsSummedBuffersAndNativeMemorySeparated() {
        String body = """
                # HELP jvm_memory_used_bytes The amount of used memory
                jvm_memory_used_bytes{area="heap",id="Eden Space"} 1000.0
                jvm_memory_used_bytes{area="heap",id="Tenured Gen"} 2000.0
                jvm_memory_used_bytes{area="nonheap",id="Metaspace"} 99999.0
                jvm_memory_committed_bytes{area="heap",id="Eden Space"} 4000.0
                jvm_memory_committed_bytes{area="heap",id="Tenured Gen"} 8000.0
                jvm_gc_live_data_size_bytes 1500.0
                jvm_buffer_memory_used_bytes{id="mapped"} 5.0E8
                jvm_buffer_memory_used_bytes{id="direct"} 70.0
                jvm_buffer_memory_used_bytes{id="mapped - 'non-volatile memory'"} 0.0
                fedlora_round_accumulator_elements 2.1528576E7
                """;
        assertThat(CoordinatorProbe.heapFigures(body))
                .containsEntry("heap_used", 3000L)
                .containsEntry("heap_committed", 12000L)
                .containsEntry("heap_live_after_gc", 1500L)
                .containsEntry("mapped_buffers", 500_000_000L)
                .containsEntry("direct_buffers", 70L)
                .containsEntry("accumulator_elements", 21_528_576L);
    }

    @Test
    void residentSetAndThreadsReadFromProcStatus() {
        // this JVM as the "coordinator": no prometheus endpoint answers on port 1, the /proc figures still count
        try (CoordinatorProbe probe = new CoordinatorProbe(ProcessHandle.current().pid(), java.net.URI.create("http://127.0.0.1:1/"))) {
            probe.sample();
            assertThat(probe.peaks().get("threads")).isGreaterThanOrEqualTo(2L).isLessThan(100_000L);
            assertThat(probe.peaks().get("rss")).isGreaterThan(probe.peaks().get("rss_file"));
            assertThat(probe.peaks().get("rss_anon")).isPositive();
            assertThat(probe.vmHwmBytes()).isGreaterThanOrEqualTo(probe.peaks().get("rss") / 2);
        }
    }
}
