package io.fedlora.agent.daemon;

import io.fedlora.agent.data.BadLinePolicy;
import java.nio.file.Path;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * Everything an agent is told at start ({@code fedlora.agent.*} properties, environment variables such as
 * {@code FEDLORA_AGENT_COORDINATOR}, or the {@code --coordinator/--token/--data/--work-dir/--name} arguments).
 *
 * @param coordinator       {@code host:port} of the coordinator's gRPC endpoint
 * @param token             one-time enrolment token; only needed until {@code work-dir/credential.json} exists
 * @param name              the node's name, unique within the federation (defaults to the host name)
 * @param dataDir           directory holding {@code train.jsonl} and {@code eval.jsonl}
 * @param workDir           credential, model cache and pending upload live here
 * @param tls               transport security towards the coordinator
 * @param heartbeatInterval time between heartbeats (the coordinator may suggest another)
 * @param ompThreads        native threads for ND4J's CPU backend; 0 leaves the backend's default
 * @param badLines          {@code skip} or {@code fail} on malformed lines of the data files
 * @param pollWait          how long one GetTask long poll may be held by the coordinator
 * @param rpcTimeout        deadline of short calls (Enrol, Heartbeat, ReportEvaluation)
 * @param transferTimeout   deadline of one model download or update upload
 * @param retry             backoff while the coordinator is unreachable
 * @param logEverySteps     training progress is logged every this many optimiser steps
 * @param baseModel         an HF directory holding the federation's base model (e.g. from the HF cache), or null: an
 *                          agent with no cached version checks it against version 0's manifest (sha256 per tensor)
 *                          and, when it matches, downloads only the delta from version 0
 */
@ConfigurationProperties("fedlora.agent")
public record AgentProperties(
        String coordinator,
        String token,
        String name,
        Path dataDir,
        @DefaultValue("agent-work") Path workDir,
        @DefaultValue Tls tls,
        @DefaultValue("10s") Duration heartbeatInterval,
        @DefaultValue("0") int ompThreads,
        @DefaultValue("skip") BadLinePolicy badLines,
        @DefaultValue("20s") Duration pollWait,
        @DefaultValue("15s") Duration rpcTimeout,
        @DefaultValue("10m") Duration transferTimeout,
        @DefaultValue Retry retry,
        @DefaultValue("10") int logEverySteps,
        Path baseModel) {

    /**
     * TLS towards the coordinator. With only {@code trustCert} (PEM CA; absent: the JVM's trust store) the server is
     * authenticated; adding {@code clientCert} and {@code clientKey} (PKCS#8 PEM) authenticates the agent too (mTLS).
     * {@code authority} overrides the host name checked against the server certificate.
     */
    public record Tls(@DefaultValue("false") boolean enabled, Path trustCert, Path clientCert, Path clientKey,
                      String authority) {}

    /**
     * Exponential backoff with jitter: the n-th wait is drawn from [d/2, d] with
     * {@code d = min(max, initial * multiplier^n)}; a call gives up after {@code maxElapsed}
     * (the task loop's polling never gives up while the agent runs).
     */
    public record Retry(@DefaultValue("500ms") Duration initialBackoff, @DefaultValue("30s") Duration maxBackoff,
                        @DefaultValue("2.0") double multiplier, @DefaultValue("15m") Duration maxElapsed) {}

    /** Without the enrolment token: the agent's settings end up in logs and failure messages. */
    @Override
    public String toString() {
        return "AgentProperties[coordinator=" + coordinator + ", token=" + (token == null || token.isBlank() ? "<none>" : "***")
                + ", name=" + name + ", dataDir=" + dataDir + ", workDir=" + workDir + ", tls=" + tls
                + ", heartbeatInterval=" + heartbeatInterval + ", ompThreads=" + ompThreads + ", badLines=" + badLines
                + ", pollWait=" + pollWait + ", rpcTimeout=" + rpcTimeout + ", transferTimeout=" + transferTimeout
                + ", retry=" + retry + ", logEverySteps=" + logEverySteps + ", baseModel=" + baseModel + "]";
    }

    public Path trainFile() {
        return requireDataDir().resolve("train.jsonl");
    }

    public Path evalFile() {
        return requireDataDir().resolve("eval.jsonl");
    }

    private Path requireDataDir() {
        if (dataDir == null) {
            throw new IllegalStateException("fedlora.agent.data-dir (--data) is not set: it must hold train.jsonl and eval.jsonl");
        }
        return dataDir;
    }
}
