package io.fedlora.agent.model.ops;

import org.bytedeco.openblas.global.openblas;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;
import java.util.function.Supplier;

/**
 * A small fixed pool for the Java kernels and the split GEMMs: rows, heads or GEMM blocks are split into contiguous
 * ranges, one per thread. Every element is computed by the same code whatever the split, and reductions across rows
 * are done by the caller in a fixed order, so results do not depend on the thread count for the element-wise
 * kernels (a split GEMM may differ from an unsplit one in the last bits, so results are reproducible for a fixed
 * thread count). Pools are per thread count and shared by the process.
 *
 * <p>Why not an {@code ExecutorService}: a small model's step is a few hundred ops of 10–500 µs each, and waking a
 * parked pool thread through a queue cost 8–30 µs per op on the 2-core machine, which made 2 threads slower than
 * one. Workers here spin for {@link #SPIN_NANOS} after each task before parking, and the caller spins for the
 * others' parts, so back-to-back ops hand over in about a microsecond; an op below {@link #MIN_WORK} units of work
 * per thread is not split at all.
 */
public final class Parallel {

    /**
     * Smallest work per thread worth a split, in rough element-operations (about a nanosecond each): below it the
     * hand-over costs more than the second thread saves.
     */
    public static final long MIN_WORK = 1L << 15;

    /** How long an idle worker (or a waiting caller) spins before parking. */
    static final long SPIN_NANOS = 50_000;

    private static final ConcurrentHashMap<Integer, Parallel> POOLS = new ConcurrentHashMap<>();

    private final int threads;
    private final Worker[] workers;
    /** Held by the thread whose job the workers run: concurrent callers take turns, nested calls run serially. */
    private final ReentrantLock lock;
    private final long minWork;

    private Parallel(int threads) {
        this.threads = threads;
        this.workers = new Worker[Math.max(0, threads - 1)];
        this.lock = new ReentrantLock();
        this.minWork = MIN_WORK;
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i + 1);
            workers[i].start();
        }
    }

    private Parallel(Parallel shared, long minWork) {
        this.threads = shared.threads;
        this.workers = shared.workers;
        this.lock = shared.lock;
        this.minWork = minWork;
    }

    /** The shared pool with {@code threads} threads (the caller counts as one). */
    public static Parallel of(int threads) {
        return POOLS.computeIfAbsent(Math.max(1, threads), Parallel::new);
    }

    /**
     * The same threads, splitting every op that has more than one item: for tests that check results do not
     * depend on the split, on shapes too small for {@link #MIN_WORK}.
     */
    public Parallel splittingEverything() {
        return new Parallel(this, 1);
    }

    /** A pool as wide as OpenBLAS is configured to be. */
    public static Parallel matchingBlas() {
        return of(Blas.threads());
    }

    public int threads() {
        return threads;
    }

    /** Items per thread so that each thread gets at least {@link #MIN_WORK} when an item costs {@code workPerItem}. */
    public int minItems(long workPerItem) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, (minWork + workPerItem - 1) / Math.max(1, workPerItem)));
    }

    /** The smallest work per thread this pool splits for (in element-operations; {@link #MIN_WORK} by default). */
    public long minWork() {
        return minWork;
    }

    /**
     * Runs a pass with OpenBLAS single-threaded when this pool is parallel: the pool splits the large GEMMs itself
     * ({@link Blas#gemm(Parallel, boolean, boolean, int, int, int, double, Blas.Region, Blas.Region, double, Blas.Region)}),
     * and OpenBLAS's own threads, which spin after each call, would otherwise compete with the pool's for the cores.
     * Nested calls are free. Not for calls from inside a pool task.
     */
    public <T> T exclusive(Supplier<T> body) {
        int blasThreads = threads > 1 ? openblas.blas_get_num_threads() : 1;
        boolean switchOff = blasThreads > 1;
        if (switchOff) {
            openblas.blas_set_num_threads(1);
        }
        try {
            return body.get();
        } finally {
            if (switchOff) {
                openblas.blas_set_num_threads(blasThreads);
            }
        }
    }

    /** As {@link #exclusive(Supplier)} for a body without a result. */
    public void exclusiveRun(Runnable body) {
        exclusive(() -> {
            body.run();
            return null;
        });
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
        int parts = (int) Math.min(threads, Math.max(1, (long) n / Math.max(1, minPerThread)));
        if (parts <= 1 || workers.length == 0 || Thread.currentThread() instanceof Worker || lock.isHeldByCurrentThread()) {
            if (n > 0) {
                body.run(0, 0, n);
            }
            return;
        }
        Job job = new Job(body, n, parts, Thread.currentThread());
        lock.lock();
        try {
            for (int p = 1; p < parts; p++) {
                workers[p - 1].hand(job);
            }
            try {
                job.runPart(0);
            } finally {
                job.await();
            }
        } finally {
            lock.unlock();
        }
        if (job.failure != null) {
            if (job.failure instanceof RuntimeException re) {
                throw re;
            }
            if (job.failure instanceof Error e) {
                throw e;
            }
            throw new IllegalStateException(job.failure);
        }
    }

    /** One split loop: the parts still running and the first failure. */
    private static final class Job {
        final RangeBody body;
        final int n;
        final int parts;
        final Thread caller;
        final AtomicInteger running;
        volatile boolean callerParked;
        volatile Throwable failure;

        Job(RangeBody body, int n, int parts, Thread caller) {
            this.body = body;
            this.n = n;
            this.parts = parts;
            this.caller = caller;
            this.running = new AtomicInteger(parts - 1);
        }

        void runPart(int p) {
            int from = (int) ((long) n * p / parts);
            int to = (int) ((long) n * (p + 1) / parts);
            body.run(p, from, to);
        }

        /** Called by a worker after its part. */
        void done(Throwable t) {
            if (t != null && failure == null) {
                failure = t;
            }
            if (running.decrementAndGet() == 0 && callerParked) {
                LockSupport.unpark(caller);
            }
        }

        void await() {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (running.get() != 0) {
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                    continue;
                }
                callerParked = true;
                if (running.get() != 0) {
                    LockSupport.park(this);
                }
                callerParked = false;
            }
        }
    }

    /** A daemon thread running part {@code part} of each job handed to it. */
    private static final class Worker extends Thread {
        private final int part;
        private volatile Job job;
        private volatile boolean parked;

        Worker(int part) {
            super("fedlora-kernels-" + part);
            this.part = part;
            setDaemon(true);
        }

        void hand(Job j) {
            job = j;
            if (parked) {
                LockSupport.unpark(this);
            }
        }

        @Override
        public void run() {
            while (true) {
                Job j = next();
                Throwable failure = null;
                try {
                    j.runPart(part);
                } catch (Throwable t) {
                    failure = t;
                }
                job = null;
                j.done(failure);
            }
        }

        private Job next() {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (true) {
                Job j = job;
                if (j != null) {
                    return j;
                }
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                    continue;
                }
                parked = true;
                if (job == null) {
                    LockSupport.park(this);
                }
                parked = false;
                spinUntil = System.nanoTime() + SPIN_NANOS;
            }
        }
    }
}
