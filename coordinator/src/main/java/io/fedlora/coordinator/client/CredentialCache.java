package io.fedlora.coordinator.client;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.springframework.transaction.support.TransactionSynchronization;
import org.springframework.transaction.support.TransactionSynchronizationManager;

/**
 * Credential holders by credential hash, remembered for a short while, so authenticating a call (every call but
 * Enrol) takes no database connection: with a thousand clients heartbeating, polling and uploading, a heartbeat that
 * had to look its credential up waited for a pooled connection behind enrolments and uploads, for seconds. Only
 * {@link ClientRepository} uses it and it forgets a client whenever that repository changes the client's credential
 * or revokes it (again after the transaction commits, so a lookup racing the change cannot keep the old row); the
 * time limit ({@code ttl}) bounds anything else: nothing is served longer than that after it was read.
 *
 * <p>So that a busy client never meets an expired entry (and the database), a holder is known from its enrolment on
 * ({@link #remember}, once the enrolment commits) and {@link #refreshAhead} re-reads, in one query per batch, every
 * entry past half its life that was used since it was read; entries not used for a whole {@code ttl} are dropped.
 */
final class CredentialCache {

    static final long TTL_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final int MAX_ENTRIES = 200_000;

    /** A holder as read at {@code loadedNanos}; {@code used} says whether a call authenticated with it since. */
    private static final class Entry {
        final CredentialHolder holder;
        final long loadedNanos;
        volatile boolean used;

        Entry(CredentialHolder holder, long loadedNanos, boolean used) {
            this.holder = holder;
            this.loadedNanos = loadedNanos;
            this.used = used;
        }
    }

    private final Map<String, Entry> byHash = new ConcurrentHashMap<>();
    private final LongSupplier nanoTime;
    private final long ttlNanos;

    CredentialCache() {
        this(System::nanoTime, TTL_NANOS);
    }

    CredentialCache(LongSupplier nanoTime, long ttlNanos) {
        this.nanoTime = nanoTime;
        this.ttlNanos = ttlNanos;
    }

    Optional<CredentialHolder> get(String hash, Function<String, Optional<CredentialHolder>> load) {
        long now = nanoTime.getAsLong();
        Entry e = byHash.get(hash);
        if (e != null && now - e.loadedNanos < ttlNanos) {
            e.used = true;
            return Optional.of(e.holder);
        }
        Optional<CredentialHolder> loaded = load.apply(hash);
        if (loaded.isPresent()) {
            put(hash, new Entry(loaded.get(), now, false));
        } else {
            byHash.remove(hash);
        }
        return loaded;
    }

    /** Knows a new credential's holder once the current transaction commits (at once outside one). */
    void remember(String hash, CredentialHolder holder) {
        if (TransactionSynchronizationManager.isSynchronizationActive()) {
            TransactionSynchronizationManager.registerSynchronization(new TransactionSynchronization() {
                @Override
                public void afterCommit() {
                    put(hash, new Entry(holder, nanoTime.getAsLong(), false));
                }
            });
        } else {
            put(hash, new Entry(holder, nanoTime.getAsLong(), false));
        }
    }

    /**
     * Re-reads (with {@code loadAll}: hash to holder for those still stored) every entry past half its life that was
     * used since it was read, and drops those unused. An entry forgotten or replaced while its batch was read is
     * left as it is now. Returns the number of entries re-read.
     */
    int refreshAhead(Function<Collection<String>, Map<String, CredentialHolder>> loadAll, int batch) {
        long now = nanoTime.getAsLong();
        List<Map.Entry<String, Entry>> due = new ArrayList<>();
        for (Map.Entry<String, Entry> e : byHash.entrySet()) {
            if (now - e.getValue().loadedNanos >= ttlNanos / 2) {
                if (e.getValue().used) {
                    due.add(Map.entry(e.getKey(), e.getValue()));
                } else if (now - e.getValue().loadedNanos >= ttlNanos) {
                    byHash.remove(e.getKey(), e.getValue());
                }
            }
        }
        for (int from = 0; from < due.size(); from += batch) {
            List<Map.Entry<String, Entry>> part = due.subList(from, Math.min(due.size(), from + batch));
            long readAt = nanoTime.getAsLong();
            Map<String, CredentialHolder> fresh = loadAll.apply(part.stream().map(Map.Entry::getKey).toList());
            for (Map.Entry<String, Entry> e : part) {
                CredentialHolder h = fresh.get(e.getKey());
                if (h == null) {
                    byHash.remove(e.getKey(), e.getValue());
                } else {
                    byHash.replace(e.getKey(), e.getValue(), new Entry(h, readAt, false));
                }
            }
        }
        return due.size();
    }

    /** Forgets {@code clientId} now and, inside a transaction, once more after it commits. */
    void forget(String clientId) {
        forgetNow(clientId);
        if (TransactionSynchronizationManager.isSynchronizationActive()) {
            TransactionSynchronizationManager.registerSynchronization(new TransactionSynchronization() {
                @Override
                public void afterCompletion(int status) {
                    forgetNow(clientId);
                }
            });
        }
    }

    int size() {
        return byHash.size();
    }

    private void put(String hash, Entry e) {
        if (byHash.size() >= MAX_ENTRIES) {
            byHash.clear();
        }
        byHash.put(hash, e);
    }

    private void forgetNow(String clientId) {
        byHash.values().removeIf(e -> e.holder.id().equals(clientId));
    }
}
