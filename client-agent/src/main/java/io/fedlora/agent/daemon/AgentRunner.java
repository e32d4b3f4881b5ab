package io.fedlora.agent.daemon;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * Runs the {@link TaskLoop} on its own thread once the context is up, and stops it when the context closes
 * (SIGTERM runs Spring's shutdown hook): the loop is interrupted, stops polling, abandons training, and the
 * runner waits for it so no cache entry or pending upload is left half-written.
 */
public final class AgentRunner implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(AgentRunner.class);
    private static final long STOP_WAIT_MS = 30_000;

    private final TaskLoop loop;
    private final CompletableFuture<Integer> exit = new CompletableFuture<>();
    private volatile Thread thread;

    public AgentRunner(TaskLoop loop) {
        this.loop = loop;
    }

    @Override
    public synchronized void start() {
        if (thread != null) {
            return;
        }
        Thread t = new Thread(() -> {
            int code = TaskLoop.EXIT_BROKEN;
            try {
                code = loop.run();
            } finally {
                exit.complete(code);
            }
        }, "fedlora-agent");
        thread = t;
        t.start();
    }

    @Override
    public void stop() {
        Thread t = thread;
        if (t == null || !t.isAlive() || t == Thread.currentThread()) {
            return;
        }
        log.info("stopping the agent");
        t.interrupt();
        try {
            t.join(STOP_WAIT_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (t.isAlive()) {
            log.warn("the agent's task loop did not stop within {} ms", STOP_WAIT_MS);
        }
    }

    @Override
    public boolean isRunning() {
        Thread t = thread;
        return t != null && t.isAlive();
    }

    /** Blocks until the task loop has ended and returns the process exit status it chose. */
    public int awaitExit() throws InterruptedException {
        try {
            return exit.get();
        } catch (ExecutionException e) {
            return TaskLoop.EXIT_BROKEN;
        }
    }
}
