package io.fedlora.coordinator.grpc;

import java.util.ArrayDeque;

/**
 * How many model downloads stream at once ({@code fedlora.grpc.max-concurrent-downloads}); the rest wait their turn
 * in arrival order holding nothing but their request. Each streaming download keeps about a chunk plus the HTTP/2
 * window in memory, so a thousand clients fetching a 500 MB base model together cost the coordinator a few dozen
 * such buffers, not a thousand: they are slowed down, never refused.
 */
final class DownloadSlots {

    private final int max;
    private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
    private int active;

    DownloadSlots(int max) {
        this.max = max;
    }

    /** Runs {@code start} now if a slot is free, else when one frees up; the download must {@link #release()} it. */
    void acquire(Runnable start) {
        synchronized (this) {
            if (active >= max) {
                waiting.add(start);
                return;
            }
            active++;
        }
        start.run();
    }

    /** A download that had not started yet gave up (cancelled): it holds no slot. True if it was still waiting. */
    synchronized boolean withdraw(Runnable start) {
        return waiting.remove(start);
    }

    /** A started download ended: the slot goes to the longest-waiting one, if any. */
    void release() {
        Runnable next;
        synchronized (this) {
            next = waiting.poll();
            if (next == null) {
                active--;
            }
        }
        if (next != null) {
            next.run();
        }
    }

    synchronized int streaming() {
        return active;
    }

    synchronized int queued() {
        return waiting.size();
    }
}
