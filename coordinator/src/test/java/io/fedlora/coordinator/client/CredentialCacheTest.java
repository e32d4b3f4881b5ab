package io.fedlora.coordinator.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * {@link CredentialCache} on a fake clock (ttl 30): a remembered holder is served without a lookup; an entry in use
 * is re-read in a batch past half its life, so it never expires under its client and the single lookup never runs;
 * an unused one is dropped; a refresh racing a revocation's forget does not put the old holder back.
 */
class CredentialCacheTest {

    private static final long TTL = 30;
    private final AtomicLong now = new AtomicLong(1_000);
    private final CredentialCache cache = new CredentialCache(now::get, TTL);
    private final AtomicInteger lookups = new AtomicInteger();
    private final Map<String, CredentialHolder> table = new HashMap<>();
    private final List<Collection<String>> batches = new ArrayList<>();

    private Optional<CredentialHolder> lookup(String hash) {
        lookups.incrementAndGet();
        return Optional.ofNullable(table.get(hash));
    }

    private Map<String, CredentialHolder> loadAll(Collection<String> hashes) {
        batches.add(List.copyOf(hashes));
        Map<String, CredentialHolder> found = new HashMap<>();
        hashes.forEach(h -> {
            if (table.containsKey(h)) {
                found.put(h, table.get(h));
            }
        });
        return found;
    }

    private static CredentialHolder holder(String id) {
        return new CredentialHolder(id, "name-" + id, "fed", null);
    }

    @Test
    void aRememberedHolderInUseIsReReadAheadAndNeverLookedUpAlone() {
        for (int i = 0; i < 3; i++) {
            table.put("h" + i, holder("c" + i));
            cache.remember("h" + i, holder("c" + i));
        }
        for (long t = 0; t < 5 * TTL; t += 5) { // a call every 5, a refresh pass every 5
            now.set(1_000 + t);
            for (int i = 0; i < 3; i++) {
                assertThat(cache.get("h" + i, this::lookup)).contains(holder("c" + i));
            }
            cache.refreshAhead(this::loadAll, 2);
        }
        assertThat(lookups).as("no single lookup: each was remembered, then re-read ahead").hasValue(0);
        assertThat(batches).isNotEmpty().allSatisfy(b -> assertThat(b).hasSizeLessThanOrEqualTo(2));
    }

    @Test
    void aReReadSeesARevocationMadeBehindTheCachesBack() {
        table.put("h", holder("c"));
        assertThat(cache.get("h", this::lookup)).contains(holder("c"));
        table.put("h", new CredentialHolder("c", "name-c", "fed", java.time.Instant.EPOCH)); // not via forget
        now.addAndGet(TTL / 2);
        cache.get("h", this::lookup); // used
        cache.refreshAhead(this::loadAll, 10);
        assertThat(cache.get("h", this::lookup).orElseThrow().revokedAt()).isEqualTo(java.time.Instant.EPOCH);
        assertThat(lookups).hasValue(1);
    }

    @Test
    void anUnusedEntryIsDroppedAndAnExpiredOneLookedUpAgain() {
        table.put("h", holder("c"));
        cache.remember("h", holder("c"));
        now.addAndGet(TTL);
        cache.refreshAhead(this::loadAll, 10);
        assertThat(batches).isEmpty();
        assertThat(cache.size()).isZero();
        assertThat(cache.get("h", this::lookup)).contains(holder("c"));
        assertThat(lookups).hasValue(1);
        now.addAndGet(TTL); // expired, never re-read: looked up again
        assertThat(cache.get("h", this::lookup)).contains(holder("c"));
        assertThat(lookups).hasValue(2);
    }

    @Test
    void aRefreshRacingAForgetDoesNotBringTheOldHolderBack() {
        table.put("h", holder("c"));
        cache.remember("h", holder("c"));
        now.addAndGet(TTL / 2);
        cache.get("h", this::lookup);
        cache.refreshAhead(hashes -> {
            Map<String, CredentialHolder> read = loadAll(hashes); // read before the revocation commits
            cache.forget("c");                                     // the revocation forgets it meanwhile
            table.put("h", new CredentialHolder("c", "name-c", "fed", java.time.Instant.EPOCH));
            return read;
        }, 10);
        assertThat(cache.size()).isZero();
        assertThat(cache.get("h", this::lookup).orElseThrow().revokedAt()).isNotNull();
    }
}
