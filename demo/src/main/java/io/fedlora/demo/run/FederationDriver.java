package io.fedlora.demo.run;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.JsonNode;

import io.fedlora.demo.admin.AdminClient;
import io.fedlora.demo.admin.ClientView;
import io.fedlora.demo.admin.FederationView;
import io.fedlora.demo.admin.RoundView;
import io.fedlora.demo.process.AgentSettings;
import io.fedlora.demo.process.ChildProcess;
import io.fedlora.demo.process.ChildProcessException;
import io.fedlora.demo.process.CoordinatorProcess;
import io.fedlora.demo.process.FederationProcesses;

/**
 * Drives one federation on a running coordinator through its admin API: enrols agent processes,
 * starts it, follows it to the end and exports the result. The demo and the end-to-end tests use
 * the same steps.
 */
public final class FederationDriver {

    private static final Logger log = LoggerFactory.getLogger(FederationDriver.class);
    private static final Duration POLL = Duration.ofMillis(750);

    private final AdminClient admin;
    private final FederationProcesses processes;
    private final CoordinatorProcess coordinator;

    public FederationDriver(AdminClient admin, FederationProcesses processes, CoordinatorProcess coordinator) {
        this.admin = admin;
        this.processes = processes;
        this.coordinator = coordinator;
    }

    public AdminClient admin() {
        return admin;
    }

    /** One client agent to start: its process/node name, its data directory and its own work directory. */
    public record AgentSpec(String name, Path dataDir, Path workDir) {
    }

    /** Issues one enrolment token per agent and starts the agents. */
    public List<ChildProcess> startAgents(String federationId, List<AgentSpec> agents, List<String> extraArgs) {
        List<String> tokens = admin.issueEnrolmentTokens(federationId, agents.size(), 3600);
        List<ChildProcess> started = new ArrayList<>();
        for (int i = 0; i < agents.size(); i++) {
            AgentSpec a = agents.get(i);
            started.add(processes.startAgent(new AgentSettings(a.name(), coordinator.grpcAddress(), tokens.get(i),
                    a.dataDir(), a.workDir(), extraArgs)));
        }
        return started;
    }

    /** Waits until {@code count} clients have enrolled in the federation; fails early if an agent dies. */
    public void awaitEnrolled(String federationId, int count, Duration timeout, List<ChildProcess> agents)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        int enrolled = 0;
        while (System.nanoTime() < deadline) {
            checkCoordinator();
            for (ChildProcess agent : agents) {
                if (!agent.isAlive()) {
                    throw new ChildProcessException(agent.name() + " exited with code "
                            + agent.exitCode().orElse(-1) + " before enrolling", agent);
                }
            }
            enrolled = clientCount(admin.clients(federationId));
            if (enrolled >= count) {
                return;
            }
            Thread.sleep(POLL.toMillis());
        }
        throw new DemoFailure(enrolled + " of " + count + " agents enrolled within " + timeout.toSeconds()
                + " s; agent logs: " + logs(agents));
    }

    /**
     * Polls the federation until it is COMPLETED, CANCELLED or FAILED, handing each snapshot of its
     * rounds to {@code progress}. Fails if the coordinator dies or the timeout passes. An agent that
     * dies is reported once and otherwise left to the round deadline.
     */
    public FederationView awaitFinished(String federationId, Duration timeout, Consumer<List<RoundView>> progress,
                                        List<ChildProcess> agents) throws InterruptedException {
        return awaitFinished(federationId, timeout, progress, null, agents);
    }

    /** As above, also handing each snapshot of the clients (their heartbeat states) to {@code clients}. */
    public FederationView awaitFinished(String federationId, Duration timeout, Consumer<List<RoundView>> progress,
                                        Consumer<List<ClientView>> clients, List<ChildProcess> agents)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<ChildProcess> deadReported = new ArrayList<>();
        while (true) {
            checkCoordinator();
            FederationView federation = admin.federation(federationId);
            progress.accept(admin.rounds(federationId));
            if (clients != null && !federation.isFinished()) {
                clients.accept(admin.clientViews(federationId));
            }
            if (federation.isFinished()) {
                return federation;
            }
            for (ChildProcess agent : agents) {
                if (!agent.isAlive() && !deadReported.contains(agent)) {
                    deadReported.add(agent);
                    log.warn("{} exited with code {}; see {}", agent.name(), agent.exitCode().orElse(-1), agent.logFile());
                }
            }
            if (System.nanoTime() > deadline) {
                throw new DemoFailure("federation " + federationId + " still " + federation.status() + " in round "
                        + federation.currentRound() + " after " + timeout.toSeconds() + " s");
            }
            Thread.sleep(POLL.toMillis());
        }
    }

    /**
     * After the federation completed, waits (bounded) until the last round carries evaluation
     * metrics, since the clients evaluate the final version after it is published.
     */
    public List<RoundView> awaitFinalEvaluation(String federationId, Duration timeout, Consumer<List<RoundView>> progress)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<RoundView> all = admin.rounds(federationId);
            progress.accept(all);
            List<RoundView> rounds = RoundView.latestAttempts(all);
            boolean evaluated = !rounds.isEmpty() && rounds.get(rounds.size() - 1).metrics().evalLoss() != null;
            if (evaluated || System.nanoTime() > deadline || !coordinator.process().isAlive()) {
                return rounds;
            }
            Thread.sleep(POLL.toMillis());
        }
    }

    /** Downloads the export zip of {@code version} and unpacks it into {@code dir}. */
    public Path export(String federationId, long version, Path dir) {
        Path zip = dir.resolveSibling(dir.getFileName() + ".zip");
        admin.exportModel(federationId, version, zip);
        try {
            ZipExtractor.extract(zip, dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpack " + zip + ": " + e.getMessage(), e);
        }
        return dir;
    }

    private void checkCoordinator() {
        if (!coordinator.process().isAlive()) {
            throw new ChildProcessException("coordinator exited with code "
                    + coordinator.process().exitCode().orElse(-1), coordinator.process());
        }
    }

    /** Number of clients in a {@code GET /federations/{id}/clients} answer (a list, or an object with a list). */
    static int clientCount(JsonNode json) {
        if (json.isArray()) {
            return json.size();
        }
        for (String field : new String[] {"clients", "content", "items"}) {
            if (json.path(field).isArray()) {
                return json.path(field).size();
            }
        }
        return 0;
    }

    private static String logs(List<ChildProcess> agents) {
        return agents.stream().map(a -> a.logFile().toString()).toList().toString();
    }
}
