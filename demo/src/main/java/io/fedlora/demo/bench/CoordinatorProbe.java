package io.fedlora.demo.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Samples the coordinator process from outside: RSS and peak RSS from {@code /proc/<pid>/status} (VmRSS, VmHWM),
 * heap in use and the round accumulator's size from its {@code /actuator/prometheus}.
 */
final class CoordinatorProbe implements AutoCloseable {

    private final long pid;
    private final URI prometheus;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    final AtomicLong peakHeapBytes = new AtomicLong();
    final AtomicLong peakRssBytes = new AtomicLong();
    final AtomicLong peakAccumulatorElements = new AtomicLong();
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
        peakRssBytes.accumulateAndGet(statusKb("VmRSS:") * 1024, Math::max);
        try {
            String body = scrape();
            long heap = 0;
            for (String line : body.split("\n")) {
                if (line.startsWith("jvm_memory_used_bytes{") && line.contains("area=\"heap\"")) {
                    heap += (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                } else if (line.startsWith("fedlora_round_accumulator_elements")) {
                    peakAccumulatorElements.accumulateAndGet(
                            (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)), Math::max);
                }
            }
            peakHeapBytes.accumulateAndGet(heap, Math::max);
        } catch (IOException | RuntimeException e) {
            // a sample missed under load; the next one counts
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Peak resident set of the whole process life, as the kernel counts it. */
    long vmHwmBytes() {
        return statusKb("VmHWM:") * 1024;
    }

    private long statusKb(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
    }
}
