package io.fedlora.coordinator.model;

import java.util.Optional;
import java.util.concurrent.Semaphore;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * How many exports the coordinator builds at once ({@code fedlora.export.max-concurrent}, 2). Each writes the whole
 * zip to the data dir's scratch space first (about twice the model: a GPT-2-small export is ~1 GB) and keeps a CPU
 * busy computing merged weights, so unlimited exports could fill the disk or starve the rounds; one more is refused
 * (HTTP 503, Retry-After) rather than queued on a request thread.
 */
@Component
public class ExportSlots {

    private final int max;
    private final Semaphore slots;

    public ExportSlots(@Value("${fedlora.export.max-concurrent:2}") int max) {
        if (max < 1) {
            throw new IllegalArgumentException("fedlora.export.max-concurrent must be at least 1, got " + max);
        }
        this.max = max;
        this.slots = new Semaphore(max);
    }

    /** A slot if one is free now; close it when the export is sent or failed. */
    public Optional<Slot> tryAcquire() {
        return slots.tryAcquire() ? Optional.of(new Slot()) : Optional.empty();
    }

    public int max() {
        return max;
    }

    /** One export's place; closing it twice releases once. */
    public final class Slot implements AutoCloseable {
        private boolean closed;

        private Slot() {
        }

        @Override
        public synchronized void close() {
            if (!closed) {
                closed = true;
                slots.release();
            }
        }
    }
}
