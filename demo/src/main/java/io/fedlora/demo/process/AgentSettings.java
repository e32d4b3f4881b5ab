package io.fedlora.demo.process;

import java.nio.file.Path;
import java.util.List;

/**
 * How to start a client agent process ({@code ./fedlora agent} arguments).
 *
 * @param name        node name, also the process name (log file {@code <name>.log})
 * @param coordinator gRPC address {@code host:port}
 * @param token       one-time enrolment token (ignored by an agent whose work dir already holds a credential)
 * @param dataDir     directory with {@code train.jsonl} and {@code eval.jsonl}
 * @param workDir     the agent's own state: credential, model cache, pending uploads
 * @param extraArgs   further Spring arguments
 */
public record AgentSettings(String name, String coordinator, String token, Path dataDir, Path workDir,
                            List<String> extraArgs) {

    public AgentSettings {
        extraArgs = List.copyOf(extraArgs);
    }

    public List<String> args() {
        List<String> args = new java.util.ArrayList<>(List.of(
                "--coordinator", coordinator,
                "--data", dataDir.toAbsolutePath().toString(),
                "--work-dir", workDir.toAbsolutePath().toString(),
                "--name", name));
        args.addAll(extraArgs);
        return args;
    }

    /** The enrolment token travels in the environment: command lines are readable by every local user. */
    public java.util.Map<String, String> environment() {
        return java.util.Map.of("FEDLORA_AGENT_TOKEN", token);
    }

    /** Without the token: settings end up in logs and assertion messages. */
    @Override
    public String toString() {
        return "AgentSettings[name=" + name + ", coordinator=" + coordinator + ", token=***, dataDir=" + dataDir
                + ", workDir=" + workDir + ", extraArgs=" + extraArgs + "]";
    }
}
