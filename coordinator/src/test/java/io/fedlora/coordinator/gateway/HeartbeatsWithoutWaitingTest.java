package io.fedlora.coordinator.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.client.ClientRecord;
import io.fedlora.coordinator.client.HeartbeatLog;
import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * A heartbeat never waits for the database: while another transaction holds the client's row locked (a slow or
 * contended database), heartbeats are still answered at once; what they said is written, in a batch, once the row is
 * free, and the client listing shows it. Only a client not heard from lately wakes the scheduler.
 */
class HeartbeatsWithoutWaitingTest extends CoordinatorTestBase {

    @Autowired TransactionTemplate tx;
    @Autowired HeartbeatLog heartbeatLog;

    @Test
    void heartbeatsAreAnsweredWhileTheClientsRowIsLockedAndWrittenAfterwards() throws Exception {
        Federation f = createAndStart(spec(uniqueName("beats"), 1, 2, 2, 60, 0, false, "fedex"));
        String token = clientService.issueTokens(f.id(), 1, Duration.ofMinutes(10), "test").get(0).token();
        AuthenticatedClient client = gateway.authenticate(gateway.enrol(token, "beater", Map.of()).credential());

        CountDownLatch locked = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        CompletableFuture<Void> holder = CompletableFuture.runAsync(() -> tx.executeWithoutResult(s -> {
            jdbc.sql("SELECT id FROM clients WHERE id = :id::uuid FOR UPDATE").param("id", client.clientId())
                    .query(String.class).single();
            locked.countDown();
            try {
                release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        assertThat(locked.await(10, TimeUnit.SECONDS)).isTrue();
        try {
            long t0 = System.nanoTime();
            CompletableFuture<Void> beats = CompletableFuture.runAsync(() -> {
                for (int i = 0; i < 200; i++) {
                    gateway.heartbeat(client, "training", i, "cuda (test)");
                }
            });
            beats.get(3, TimeUnit.SECONDS); // a row UPDATE per beat would wait for the lock (30 s)
            System.out.printf("200 heartbeats with the client's row locked: %d ms%n",
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
        } finally {
            release.countDown();
            holder.get(30, TimeUnit.SECONDS);
        }
        // heartbeat state is written in batches after the lock is released: wait for the batch, not a fixed moment
        ClientRecord row = null;
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        do {
            row = clientService.list(f.id()).stream().filter(c -> c.id().equals(client.clientId()))
                    .findFirst().orElseThrow();
            if (row.cachedModelVersion() != null && row.cachedModelVersion() == 199L) {
                break;
            }
            Thread.sleep(50);
        } while (System.nanoTime() < until);
        assertThat(row.state()).isEqualTo("training");
        assertThat(row.cachedModelVersion()).isEqualTo(199L);
        assertThat(row.device()).isEqualTo("cuda (test)");
        assertThat(row.lastHeartbeat()).isAfter(row.enrolledAt());
    }

    @Autowired javax.sql.DataSource dataSource;

    /** Authentication is remembered: a heartbeat needs no connection even while the pool has none to give. */
    @Test
    void heartbeatsAreAnsweredWhileEveryDatabaseConnectionIsTaken() throws Exception {
        Federation f = createAndStart(spec(uniqueName("beats-pool"), 1, 2, 2, 60, 0, false, "fedex"));
        String token = clientService.issueTokens(f.id(), 1, Duration.ofMinutes(10), "test").get(0).token();
        String credential = gateway.enrol(token, "pool-beater", Map.of()).credential();
        gateway.heartbeat(gateway.authenticate(credential), "idle", -1, "cpu");

        com.zaxxer.hikari.HikariDataSource pool = dataSource.unwrap(com.zaxxer.hikari.HikariDataSource.class);
        java.util.List<java.sql.Connection> taken = new java.util.ArrayList<>();
        try {
            while (pool.getHikariPoolMXBean().getIdleConnections() > 0
                    || pool.getHikariPoolMXBean().getTotalConnections() < pool.getMaximumPoolSize()) {
                taken.add(pool.getConnection());
            }
            CompletableFuture<Void> beats = CompletableFuture.runAsync(() -> {
                for (int i = 0; i < 50; i++) {
                    gateway.heartbeat(gateway.authenticate(credential), "training", i, "cpu");
                }
            });
            beats.get(3, TimeUnit.SECONDS); // looking the credential up would wait for a connection (30 s)
        } finally {
            for (java.sql.Connection c : taken) {
                c.close();
            }
        }
        // a revoked client is refused at once, remembered or not
        clientService.revokeClient(gateway.authenticate(credential).clientId(), "test");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> gateway.authenticate(credential))
                .hasMessageContaining("revoked");
    }

    /**
     * A new client's credential is known from its enrolment on: its first heartbeat (which an agent sends right after
     * the answer, while a thousand others enrol and hold the pool's connections) needs no connection either.
     */
    @Test
    void theFirstHeartbeatAfterEnrolmentNeedsNoConnection() throws Exception {
        Federation f = createAndStart(spec(uniqueName("beats-first"), 1, 2, 2, 60, 0, false, "fedex"));
        String token = clientService.issueTokens(f.id(), 1, Duration.ofMinutes(10), "test").get(0).token();
        String credential = gateway.enrol(token, "first-beater", Map.of()).credential();

        com.zaxxer.hikari.HikariDataSource pool = dataSource.unwrap(com.zaxxer.hikari.HikariDataSource.class);
        java.util.List<java.sql.Connection> taken = new java.util.ArrayList<>();
        try {
            while (taken.size() < pool.getMaximumPoolSize()) { // all of them, also one the scheduler held a moment
                taken.add(pool.getConnection());
            }
            CompletableFuture.runAsync(() -> gateway.heartbeat(gateway.authenticate(credential), "idle", -1, "cpu"))
                    .get(3, TimeUnit.SECONDS); // looking the credential up would wait for a connection (30 s)
        } finally {
            for (java.sql.Connection c : taken) {
                c.close();
            }
        }
    }

    @Test
    void onlyAClientNotHeardFromLatelyIsWorthASchedulerPass() {
        String id = java.util.UUID.randomUUID().toString(); // no such row: the flush updates nothing
        assertThat(heartbeatLog.record(id, "idle", null, null)).as("first beat").isTrue();
        assertThat(heartbeatLog.record(id, null, 3L, null)).as("a live client's next beat").isFalse();
    }
}
