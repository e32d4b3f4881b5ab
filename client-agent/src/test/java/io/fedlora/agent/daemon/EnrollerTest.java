package io.fedlora.agent.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.fedlora.agent.daemon.transport.CoordinatorClient;
import io.fedlora.proto.v1.HeartbeatRequest;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class EnrollerTest {

    @TempDir
    Path work;
    ScriptedCoordinator coordinator;
    ManagedChannel channel;
    ListAppender<ILoggingEvent> logs = new ListAppender<>();

    @BeforeEach
    void start() throws Exception {
        coordinator = new ScriptedCoordinator();
        channel = NettyChannelBuilder.forTarget(coordinator.target()).usePlaintext().build();
        logs.start();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
    }

    @AfterEach
    void stop() throws Exception {
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
        channel.shutdownNow();
        coordinator.close();
    }

    private StoredCredential enrolOnce(String token) throws Exception {
        AgentProperties props = TestSupport.props(coordinator.target(), work, work, token);
        CoordinatorClient client = new CoordinatorClient(channel, props);
        StoredCredential c = new Enroller(client, new CredentialStore(work), props).ensureEnrolled();
        client.heartbeat(HeartbeatRequest.newBuilder().setState("idle").build());
        return c;
    }

    @Test
    void enrolsOnceStoresTheCredentialOwnerOnlyAndReusesItAfterARestart() throws Exception {
        StoredCredential first = enrolOnce("token-1");
        assertThat(first.clientId()).isEqualTo(ScriptedCoordinator.CLIENT_ID);
        Path file = work.resolve("credential.json");
        assertThat(Files.readString(file)).contains(ScriptedCoordinator.CREDENTIAL);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");

        // a restarted agent: new client and store, same work dir; the token is spent but not needed any more
        StoredCredential second = enrolOnce("token-1");
        assertThat(second).isEqualTo(first);
        assertThat(coordinator.enrolCalls).hasValue(1);
        assertThat(coordinator.heartbeats).hasSize(2);
        assertThat(coordinator.authHeaders).containsOnly("Bearer " + ScriptedCoordinator.CREDENTIAL);

        String logged = String.join("\n", logs.list.stream().map(ILoggingEvent::getFormattedMessage).toList());
        assertThat(logged).contains(ScriptedCoordinator.CLIENT_ID)
                .doesNotContain(ScriptedCoordinator.CREDENTIAL).doesNotContain("token-1");
        assertThat(first.toString()).doesNotContain(ScriptedCoordinator.CREDENTIAL);
    }

    @Test
    void trainingSeedsFollowTheEnrolmentNameAndOldCredentialFilesFallBackToTheClientId() throws Exception {
        StoredCredential c = enrolOnce("token-1");
        assertThat(c.name()).isNotBlank();
        assertThat(c.seedIdentity()).as("the operator's name, stable across federations").isEqualTo(c.name())
                .isNotEqualTo(c.clientId());

        // a credential file written before names were recorded still loads, and seeds from the coordinator's id
        Path file = work.resolve("credential.json");
        Files.writeString(file, Files.readString(file).replaceAll(",?\\s*\"name\"\\s*:\\s*\"[^\"]*\"", ""));
        assertThat(Files.readString(file)).doesNotContain("\"name\"");
        StoredCredential legacy = new CredentialStore(work).load().orElseThrow();
        assertThat(legacy.name()).isNull();
        assertThat(legacy.seedIdentity()).isEqualTo(ScriptedCoordinator.CLIENT_ID);
    }

    @Test
    void refusedTokenStoresNothingAndIsNotRetried() {
        assertThatThrownBy(() -> enrolOnce("wrong-token"))
                .isInstanceOf(StatusRuntimeException.class).hasMessageContaining("PERMISSION_DENIED");
        assertThat(coordinator.enrolCalls).hasValue(1);
        assertThat(work.resolve("credential.json")).doesNotExist();
    }

    @Test
    void withoutCredentialOrTokenTheErrorSaysWhatToDo() {
        assertThatThrownBy(() -> enrolOnce(null)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("--token");
        assertThat(coordinator.enrolCalls).hasValue(0);
    }
}
