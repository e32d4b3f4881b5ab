package io.fedlora.agent.model.ops;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;

/**
 * A small fixed pool for the Java kernels: rows or attention heads are split into contiguous ranges, one per thread.
 * Every element is computed by the same code whatever the split, and reductions across rows are done by the caller
 * in a fixed order, so results do not depend on the thread count (only OpenBLAS's own threading can change the
 * last bits of a GEMM). Pools are per thread count and shared by the process, like OpenBLAS's own pool.
 */
public final class Parallel {

    private static final ConcurrentHashMap<Integer, Parallel> POOLS = new ConcurrentHashMap<>();

    private final int threads;
    private final ExecutorService pool;

    private Parallel(int threads) {
        this.threads = threads;
        this.pool = threads <= 1 ? null : Executors.newFixedThreadPool(threads - 1, r -> {
            Thread t = new Thread(r, "fedlora-kernels");
            t.setDaemon(true);
            return t;
        });
    }

    /** The shared pool with {@code threads} threads (the caller counts as one). */
    public static Parallel of(int threads) {
        return POOLS.computeIfAbsent(Math.max(1, threads), Parallel::new);
    }

    /** A pool as wide as OpenBLAS is configured to be. */
    public static Parallel matchingBlas() {
        return of(Blas.threads());
    }

    public int threads() {
        return threads;
    }

    /** A range of work items handed to one thread; {@code part} is in [0, threads) and names the thread's scratch. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int part, int from, int to);
    }

    /** Runs {@code body.accept(i)} for i in [0, n), split over the threads; work below {@code minPerThread} stays serial. */
    public void forEach(int n, int minPerThread, IntConsumer body) {
        forRanges(n, minPerThread, (part, from, to) -> {
            for (int i = from; i < to; i++) {
                body.accept(i);
            }
        });
    }

    /** Splits [0, n) into at most {@link #threads} contiguous ranges of at least {@code minPerThread} items. */
    public void forRanges(int n, int minPerThread, RangeBody body) {
        int parts = Math.min(threads, Math.max(1, n / Math.max(1, minPerThread)));
        if (parts <= 1 || pool == null) {
            if (n > 0) {
                body.run(0, 0, n);
            }
            return;
        }
        List<Future<?>> futures = new ArrayList<>(parts - 1);
        for (int p = 1; p < parts; p++) {
            int part = p;
            int from = (int) ((long) n * p / parts);
            int to = (int) ((long) n * (p + 1) / parts);
            futures.add(pool.submit(() -> body.run(part, from, to)));
        }
        RuntimeException failure = null;
        try {
            body.run(0, 0, n / parts);
        } catch (RuntimeException e) {
            failure = e;
        }
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted in a parallel kernel", e);
            } catch (ExecutionException e) {
                if (failure == null) {
                    failure = e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
