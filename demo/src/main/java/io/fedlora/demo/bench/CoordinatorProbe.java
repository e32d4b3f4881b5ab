package io.fedlora.demo.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Samples the coordinator process from outside every 250 ms: RSS and its parts from {@code /proc/<pid>/status}
 * (VmRSS; RssAnon: heap, native and off-heap arrays; RssFile: file pages it maps; VmHWM at the end), heap in use,
 * committed and live after the last collection, mapped and direct NIO buffers (Netty's network buffers among them)
 * and the round accumulator's size from its {@code /actuator/prometheus}, and its thread count (JVM and native
 * threads: each holds a stack and may hold a malloc arena). Every figure is kept as its peak (threads as a count,
 * the rest in bytes).
 */
final class CoordinatorProbe implements AutoCloseable {

    /** The {@code /proc/<pid>/status} fields whose peaks are kept, by JSON key. */
    static final Map<String, String> STATUS_FIELDS = Map.of("rss", "VmRSS:", "rss_anon", "RssAnon:",
            "rss_file", "RssFile:");

    private final long pid;
    private final URI prometheus;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    final AtomicLong peakHeapBytes = new AtomicLong();
    final AtomicLong peakRssBytes = new AtomicLong();
    final AtomicLong peakAccumulatorElements = new AtomicLong();
    /** Peak of every sampled figure, by JSON key (bytes). */
    private final Map<String, AtomicLong> peaks = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean running = true;

    CoordinatorProbe(long pid, URI baseUri) {
        this.pid = pid;
        this.prometheus = baseUri.resolve("/actuator/prometheus");
        this.thread = new Thread(this::loop, "bench-coordinator-probe");
        thread.setDaemon(true);
        thread.start();
    }

    private void loop() {
        while (running) {
            sample();
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** The coordinator's whole {@code /actuator/prometheus} text now. */
    String scrape() throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(prometheus).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    void sample() {
        Map<String, Long> status = status();
        STATUS_FIELDS.keySet().forEach(k -> peak(k, status.getOrDefault(k, 0L)));
        peak("threads", status.getOrDefault("threads", 0L));
        peakRssBytes.accumulateAndGet(status.getOrDefault("rss", 0L), Math::max);
        try {
            Map<String, Long> m = heapFigures(scrape());
            m.forEach(this::peak);
            peakHeapBytes.accumulateAndGet(m.getOrDefault("heap_used", 0L), Math::max);
            peakAccumulatorElements.accumulateAndGet(m.getOrDefault("accumulator_elements", 0L), Math::max);
        } catch (IOException | RuntimeException e) {
            // a sample missed under load; the next one counts
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void peak(String key, long value) {
        peaks.computeIfAbsent(key, k -> new AtomicLong()).accumulateAndGet(value, Math::max);
    }

    /** The peaks sampled so far, by JSON key, in a fixed order (absent ones as 0). */
    Map<String, Long> peaks() {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String k : List.of("rss", "rss_anon", "rss_file", "heap_used", "heap_committed", "heap_live_after_gc",
                "mapped_buffers", "direct_buffers", "threads")) {
            AtomicLong v = peaks.get(k);
            out.put(k, v == null ? 0 : v.get());
        }
        return out;
    }

    /**
     * The heap and buffer figures of one scrape: heap used and committed (all heap pools), live heap after the last
     * collection, mapped and direct NIO buffers and the accumulator's numbers (ND4J arrays live outside all of these).
     */
    static Map<String, Long> heapFigures(String body) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String line : body.split("\n")) {
            if (line.startsWith("#") || line.isBlank()) {
                continue;
            }
            long v = (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            String key = null;
            if (line.startsWith("jvm_memory_used_bytes{") && line.contains("area=\"heap\"")) {
                key = "heap_used";
            } else if (line.startsWith("jvm_memory_committed_bytes{") && line.contains("area=\"heap\"")) {
                key = "heap_committed";
            } else if (line.startsWith("jvm_gc_live_data_size_bytes")) {
                key = "heap_live_after_gc";
            } else if (line.startsWith("jvm_buffer_memory_used_bytes{") && line.contains("id=\"mapped\"")) {
                key = "mapped_buffers";
            } else if (line.startsWith("jvm_buffer_memory_used_bytes{") && line.contains("id=\"direct\"")) {
                key = "direct_buffers";
            } else if (line.startsWith("fedlora_round_accumulator_elements")) {
                key = "accumulator_elements";
            }
            if (key != null) {
                out.merge(key, v, Long::sum);
            }
        }
        return out;
    }

    /** Peak resident set of the whole process life, as the kernel counts it. */
    long vmHwmBytes() {
        return status().getOrDefault("hwm", 0L);
    }

    private Map<String, Long> status() {
        Map<String, Long> out = new LinkedHashMap<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                STATUS_FIELDS.forEach((key, field) -> {
                    if (line.startsWith(field)) {
                        out.put(key, kb(line, field));
                    }
                });
                if (line.startsWith("VmHWM:")) {
                    out.put("hwm", kb(line, "VmHWM:"));
                }
                if (line.startsWith("Threads:")) {
                    out.put("threads", Long.parseLong(line.substring("Threads:".length()).trim()));
                }
            }
        } catch (IOException | RuntimeException e) {
            return out;
        }
        return out;
    }

    private static long kb(String line, String field) {
        return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]) * 1024;
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
    }
}
