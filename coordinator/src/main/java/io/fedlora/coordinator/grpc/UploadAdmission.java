package io.fedlora.coordinator.grpc;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * How many uploads receive their data at once, and how many declared bytes they may hold together
 * ({@code fedlora.grpc.max-concurrent-uploads}, {@code fedlora.grpc.max-upload-bytes-in-flight}). An upload whose
 * header checked out waits here, in arrival order, before its first data chunk is read; it is slowed down by gRPC
 * flow control (its stream requests no further message, so its client's sends stall in the HTTP/2 window), never
 * refused. Without it a thousand clients uploading together each held a partly filled buffer, so the coordinator's
 * memory grew with the number of clients rather than with the uploads it can actually work on at once.
 *
 * <p>Strictly first come, first served (a large upload is not overtaken forever by small ones); an upload larger
 * than the byte budget on its own is admitted once nothing else is in flight.
 */
final class UploadAdmission {

    private final int maxUploads;
    private final long maxBytes;
    private final ArrayDeque<Ticket> waiting = new ArrayDeque<>();
    private int active;
    private long activeBytes;
    private long admittedTotal;
    private long waitedTotal;

    UploadAdmission(int maxUploads, long maxBytes) {
        if (maxUploads < 1 || maxBytes < 1) {
            throw new IllegalArgumentException("upload admission needs positive limits");
        }
        this.maxUploads = maxUploads;
        this.maxBytes = maxBytes;
    }

    /**
     * Queues an upload of {@code bytes} declared bytes; {@code onAdmitted} runs once it may receive its data: at once
     * on this thread if it fits now, else on the thread whose release made room. The upload must
     * {@link Ticket#release release} the ticket however it ends, admitted or still waiting.
     */
    Ticket admit(long bytes, Runnable onAdmitted) {
        Ticket t = new Ticket(bytes, onAdmitted);
        List<Ticket> now;
        synchronized (this) {
            waiting.add(t);
            now = admitFitting();
            if (!now.contains(t)) {
                waitedTotal++;
                t.aheadWhenQueued = waiting.size() - 1 + active;
            }
        }
        now.forEach(Ticket::run);
        return t;
    }

    /** Heads of the queue that fit now, marked admitted; run them outside the lock. */
    private List<Ticket> admitFitting() {
        List<Ticket> out = new ArrayList<>();
        while (!waiting.isEmpty()) {
            Ticket head = waiting.peek();
            boolean fits = active < maxUploads && (active == 0 || activeBytes + head.bytes <= maxBytes);
            if (!fits) {
                break;
            }
            waiting.poll();
            head.admitted = true;
            active++;
            activeBytes += head.bytes;
            admittedTotal++;
            out.add(head);
        }
        return out;
    }

    synchronized int inFlight() {
        return active;
    }

    synchronized long bytesInFlight() {
        return activeBytes;
    }

    synchronized int queued() {
        return waiting.size();
    }

    /** Uploads that had to wait for room (since start), for the metrics. */
    synchronized long waitedTotal() {
        return waitedTotal;
    }

    /** One upload's place: waiting, then admitted, then released. */
    final class Ticket {
        private final long bytes;
        private final Runnable onAdmitted;
        private boolean admitted;
        private boolean released;
        private int aheadWhenQueued;

        private Ticket(long bytes, Runnable onAdmitted) {
            this.bytes = bytes;
            this.onAdmitted = onAdmitted;
        }

        private void run() {
            onAdmitted.run();
        }

        /** The upload ended (stored, refused or broken off): its room goes to the next in line. Idempotent. */
        void release() {
            List<Ticket> next;
            synchronized (UploadAdmission.this) {
                if (released) {
                    return;
                }
                released = true;
                if (!admitted) {
                    waiting.remove(this);
                    next = admitFitting(); // a waiting head that gave up may unblock those behind it
                } else {
                    active--;
                    activeBytes -= bytes;
                    next = admitFitting();
                }
            }
            next.forEach(Ticket::run);
        }

        /** Uploads ahead of this one (waiting or in flight) when it had to queue; 0 if it was admitted at once. */
        int aheadWhenQueued() {
            synchronized (UploadAdmission.this) {
                return aheadWhenQueued;
            }
        }

        boolean isAdmitted() {
            synchronized (UploadAdmission.this) {
                return admitted;
            }
        }
    }
}
