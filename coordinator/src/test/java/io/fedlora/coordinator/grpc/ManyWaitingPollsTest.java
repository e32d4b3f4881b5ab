package io.fedlora.coordinator.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.client.ClientService;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.gateway.TaskPolls;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.proto.v1.FederationGrpc;
import io.fedlora.proto.v1.TaskRequest;
import io.fedlora.proto.v1.TaskResponse;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.grpc.server.lifecycle.GrpcServerLifecycle;

/**
 * Two thousand clients long-poll GetTask at once over real loopback gRPC against the real coordinator: none is
 * refused, every poll is answered (WAIT when its wait ends, TRAIN as soon as the round they wait for opens), and
 * the JVM's thread count stays flat while they wait, because a waiting poll holds no thread. With the fixed poll
 * pool this replaced (32 threads + 256 queued) every poll past about 288 was refused RESOURCE_EXHAUSTED.
 */
class ManyWaitingPollsTest extends CoordinatorTestBase {

    private static final int CLIENTS = 2000;
    private static final int CHANNELS = 4;
    private static final int WAIT_MS = 15_000;

    @Autowired GrpcServerLifecycle grpcServer;
    @Autowired TaskPolls taskPolls;

    @Test
    void twoThousandConcurrentPollsAreAllAnsweredOnFewThreads() throws Exception {
        // the round needs one client more than poll: it waits in SELECTING until the last one enrols
        Federation f = createAndStart(spec(uniqueName("many-polls"), 1, 1, CLIENTS + 1, 120, 0, false, "fedex"));
        List<String> tokens = clientService.issueTokens(f.id(), CLIENTS + 1, Duration.ofMinutes(30), "test").stream()
                .map(ClientService.IssuedToken::token).toList();
        List<String> credentials = enrolInProcess(tokens.subList(0, CLIENTS));

        List<ManagedChannel> channels = new ArrayList<>();
        for (int i = 0; i < CHANNELS; i++) {
            channels.add(NettyChannelBuilder.forAddress("127.0.0.1", grpcServer.getPort()).usePlaintext()
                    .directExecutor().build());
        }
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        try {
            // warm every channel (and the server's handler threads) up before the baseline is taken
            Round warm = pollAll(channels, credentials.subList(0, 50), 0);
            warm.answers.get(30, TimeUnit.SECONDS);
            int baseline = threads.getThreadCount();

            // 1. everyone waits 15 s for a round that cannot open yet: all answered WAIT at the end of their wait
            ThreadPeak waitPeak = new ThreadPeak(threads);
            long t0 = System.nanoTime();
            Round waits = pollAll(channels, credentials, WAIT_MS);
            await("all polls to be waiting", Duration.ofSeconds(60), () -> taskPolls.waiting() >= CLIENTS
                    || waits.answers.isDone());
            long arrivedMs = ms(t0);
            int waiting = taskPolls.waiting();
            int duringWait = threads.getThreadCount();
            System.out.printf("%d polls waiting %d ms after they were sent, %d threads (baseline %d): %s%n", waiting,
                    arrivedMs, duringWait, baseline, threadsByName());
            Map<String, Long> outcomes = waits.answers.get(90, TimeUnit.SECONDS);
            long waitPhaseMs = ms(t0);
            waitPeak.stop();
            assertThat(outcomes).as("outcomes of %d polls", CLIENTS).isEqualTo(Map.of("WAIT", (long) CLIENTS));
            assertThat(waiting).as("polls waiting at once on the coordinator").isEqualTo(CLIENTS);

            // 2. everyone waits up to 30 s; the last client enrols, the round opens, every poll is answered TRAIN
            ThreadPeak taskPeak = new ThreadPeak(threads);
            Round tasks = pollAll(channels, credentials, 30_000);
            await("all polls to be waiting again", Duration.ofSeconds(60), () -> taskPolls.waiting() >= CLIENTS
                    || tasks.answers.isDone());
            long t1 = System.nanoTime();
            gateway.heartbeat(gateway.authenticate(gateway.enrol(tokens.get(CLIENTS), "last", Map.of()).credential()),
                    "idle", -1, "test");
            Map<String, Long> trained = tasks.answers.get(90, TimeUnit.SECONDS);
            long wakeMs = ms(t1);
            taskPeak.stop();
            assertThat(trained).as("outcomes of %d polls once the round opened", CLIENTS)
                    .isEqualTo(Map.of("TRAIN", (long) CLIENTS));
            assertThat(wakeMs).as("answered by the round opening, not by their 30 s wait ending").isLessThan(25_000);

            int grown = Math.max(waitPeak.peak(), taskPeak.peak()) - baseline;
            System.out.printf("%d concurrent polls: all waiting %d ms after they were sent; baseline %d threads, %d while"
                    + " %d waited (peak +%d); wait phase %d ms (%d ms wait), slowest WAIT %d ms; round opened -> all %d"
                    + " answered TRAIN in %d ms (slowest %d ms)%n", CLIENTS, arrivedMs, baseline, duringWait, waiting,
                    grown, waitPhaseMs, WAIT_MS, waits.slowestMs.get(), CLIENTS, wakeMs, tasks.slowestMs.get());
            assertThat(duringWait - baseline).as("threads added while %d polls wait", CLIENTS).isLessThan(50);
            assertThat(grown).as("peak threads added by %d polls arriving at once", CLIENTS).isLessThan(200);
        } finally {
            channels.forEach(ManagedChannel::shutdownNow);
        }
    }

    private List<String> enrolInProcess(List<String> tokens) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<CompletableFuture<String>> out = new ArrayList<>();
            AtomicInteger n = new AtomicInteger();
            for (String token : tokens) {
                out.add(CompletableFuture.supplyAsync(
                        () -> gateway.enrol(token, "poller-" + n.incrementAndGet(), Map.of()).credential(), pool));
            }
            return out.stream().map(CompletableFuture::join).toList();
        } finally {
            pool.shutdown();
        }
    }

    /** Polls once per credential, all at once, asynchronously; answers completes with outcome counts. */
    private static Round pollAll(List<ManagedChannel> channels, List<String> credentials, int waitMs) {
        Map<String, Long> outcomes = new ConcurrentHashMap<>();
        AtomicInteger left = new AtomicInteger(credentials.size());
        CompletableFuture<Map<String, Long>> done = new CompletableFuture<>();
        java.util.concurrent.atomic.AtomicLong slowest = new java.util.concurrent.atomic.AtomicLong();
        long t0 = System.nanoTime();
        for (int i = 0; i < credentials.size(); i++) {
            Metadata md = new Metadata();
            md.put(BearerAuthInterceptor.AUTHORIZATION, "Bearer " + credentials.get(i));
            FederationGrpc.FederationStub stub = FederationGrpc.newStub(channels.get(i % channels.size()))
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
                    .withDeadlineAfter(waitMs + 60_000L, TimeUnit.MILLISECONDS);
            stub.getTask(TaskRequest.newBuilder().setWaitMs(waitMs).setCachedModelVersion(-1).build(),
                    new StreamObserver<>() {
                        private String kind;

                        @Override
                        public void onNext(TaskResponse r) {
                            kind = r.getKind().name();
                        }

                        @Override
                        public void onError(Throwable t) {
                            finish(Status.fromThrowable(t).getCode().name());
                        }

                        @Override
                        public void onCompleted() {
                            finish(kind);
                        }

                        private void finish(String outcome) {
                            outcomes.merge(outcome, 1L, Long::sum);
                            slowest.accumulateAndGet(ms(t0), Math::max);
                            if (left.decrementAndGet() == 0) {
                                done.complete(Map.copyOf(outcomes));
                            }
                        }
                    });
        }
        return new Round(done, slowest);
    }

    private record Round(CompletableFuture<Map<String, Long>> answers, java.util.concurrent.atomic.AtomicLong slowestMs) {}

    /** Samples the JVM's live thread count every 20 ms until stopped. */
    private static final class ThreadPeak {
        private final AtomicInteger peak = new AtomicInteger();
        private final Thread sampler;
        private volatile boolean running = true;

        ThreadPeak(ThreadMXBean threads) {
            sampler = new Thread(() -> {
                while (running) {
                    peak.accumulateAndGet(threads.getThreadCount(), Math::max);
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "thread-peak-sampler");
            sampler.setDaemon(true);
            sampler.start();
        }

        void stop() throws InterruptedException {
            running = false;
            sampler.join();
        }

        int peak() {
            return peak.get() - 1; // not counting the sampler itself
        }
    }

    /** Live threads by name with the trailing number dropped, e.g. {grpc-default-executor-=12, ...}. */
    private static Map<String, Long> threadsByName() {
        return Thread.getAllStackTraces().keySet().stream().collect(java.util.stream.Collectors.groupingBy(
                t -> t.getName().replaceAll("[0-9]+$", ""), java.util.TreeMap::new,
                java.util.stream.Collectors.counting()));
    }

    private static long ms(long since) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - since);
    }
}
