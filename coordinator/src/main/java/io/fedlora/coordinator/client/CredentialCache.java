package io.fedlora.coordinator.client;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.springframework.transaction.support.TransactionSynchronization;
import org.springframework.transaction.support.TransactionSynchronizationManager;

/**
 * Clients by credential hash, remembered for a short while, so authenticating a call (every call but Enrol) does
 * not take a database connection each time: with a thousand clients heartbeating, polling and uploading, heartbeats
 * waited for a pooled connection behind the rest. Only {@link ClientRepository} uses it and it forgets a client
 * whenever that repository changes the client's credential or revokes it (again after the transaction commits, so a
 * lookup racing the change cannot keep the old row); the time limit bounds anything else.
 */
final class CredentialCache {

    private static final long TTL_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final int MAX_ENTRIES = 200_000;

    private record Entry(ClientRecord client, long expiresNanos) {}

    private final Map<String, Entry> byHash = new ConcurrentHashMap<>();

    Optional<ClientRecord> get(String hash, Function<String, Optional<ClientRecord>> load) {
        long now = System.nanoTime();
        Entry e = byHash.get(hash);
        if (e != null && now - e.expiresNanos < 0) {
            return Optional.of(e.client);
        }
        Optional<ClientRecord> loaded = load.apply(hash);
        if (loaded.isPresent()) {
            if (byHash.size() >= MAX_ENTRIES) {
                byHash.clear();
            }
            byHash.put(hash, new Entry(loaded.get(), now + TTL_NANOS));
        } else {
            byHash.remove(hash);
        }
        return loaded;
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

    private void forgetNow(String clientId) {
        byHash.values().removeIf(e -> e.client.id().equals(clientId));
    }
}
