package io.fedlora.demo.bench;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/** What the simulated clients measured, shared by all of them (thread-safe). */
final class BenchStats {

    final ConcurrentLinkedQueue<Long> heartbeatMicros = new ConcurrentLinkedQueue<>();
    final LongAdder uploadWireBytes = new LongAdder();
    final LongAdder uploadRawBytes = new LongAdder();
    final LongAdder downloadWireBytes = new LongAdder();
    final LongAdder downloadRawBytes = new LongAdder();
    final LongAdder uploads = new LongAdder();
    /** Clients whose own copy of the base model matched version 0's manifest (--clients-hold-base), or did not. */
    final LongAdder baseMatched = new LongAdder();
    final LongAdder baseDiffered = new LongAdder();
    /** gRPC refusals and errors by "call:STATUS"; a refused call is retried with back-off. */
    final Map<String, LongAdder> errors = new ConcurrentHashMap<>();
    /** Per round: first TRAIN task seen, last upload receipt (epoch ms). */
    final Map<Integer, AtomicLong> firstTask = new ConcurrentHashMap<>();
    final Map<Integer, AtomicLong> lastReceipt = new ConcurrentHashMap<>();
    final Map<Integer, LongAdder> receipts = new ConcurrentHashMap<>();
    /** The tensors a round's task asked for (the same for every client) and the training plan. */
    final Map<Integer, java.util.List<io.fedlora.proto.v1.TensorMeta>> expected = new ConcurrentHashMap<>();
    volatile io.fedlora.proto.v1.TrainingPlan plan;

    void error(String call, String status) {
        errors.computeIfAbsent(call + ":" + status, k -> new LongAdder()).increment();
    }

    void taskSeen(int round, long now) {
        firstTask.computeIfAbsent(round, k -> new AtomicLong(Long.MAX_VALUE)).accumulateAndGet(now, Math::min);
    }

    void receipt(int round, long now) {
        lastReceipt.computeIfAbsent(round, k -> new AtomicLong()).accumulateAndGet(now, Math::max);
        receipts.computeIfAbsent(round, k -> new LongAdder()).increment();
        uploads.increment();
    }

    /** Heartbeat latency percentiles in ms: p50, p99, max. */
    double[] heartbeatPercentilesMs() {
        long[] v = heartbeatMicros.stream().mapToLong(Long::longValue).sorted().toArray();
        if (v.length == 0) {
            return new double[] {Double.NaN, Double.NaN, Double.NaN};
        }
        return new double[] {at(v, 0.50) / 1000.0, at(v, 0.99) / 1000.0, v[v.length - 1] / 1000.0};
    }

    int heartbeats() {
        return heartbeatMicros.size();
    }

    private static long at(long[] sorted, double q) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
    }

    long refused() {
        return errors.entrySet().stream().filter(e -> e.getKey().endsWith(":RESOURCE_EXHAUSTED"))
                .mapToLong(e -> e.getValue().sum()).sum();
    }

    static String describe(Map<String, LongAdder> m) {
        return Arrays.toString(m.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue().sum()).toArray());
    }
}
