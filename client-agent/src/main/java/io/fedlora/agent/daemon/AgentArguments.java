package io.fedlora.agent.daemon;

import io.fedlora.cli.Cli;
import io.fedlora.cli.FedloraVersion;
import io.fedlora.cli.SpringArguments;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import org.springframework.boot.convert.DurationStyle;

/**
 * The agent daemon's command line ({@code ./fedlora agent}): each option is the short form of a
 * {@code fedlora.agent.*} property, which the environment may set instead ({@code FEDLORA_AGENT_TOKEN} and so on;
 * an option given wins). Spring properties pass through as {@code --fedlora.agent.x=y}, {@code --spring.x=y} or
 * {@code --logging.x=y}; anything else is refused with the usage before Spring starts.
 */
@Command(name = "fedlora agent", mixinStandardHelpOptions = true, versionProvider = FedloraVersion.class,
        description = {"A client agent: enrols with the coordinator once, trains LoRA locally on its own data and",
                "uploads only adapters, until the federation ends. Each option may come from the environment",
                "instead (FEDLORA_AGENT_COORDINATOR, FEDLORA_AGENT_TOKEN, FEDLORA_AGENT_NAME,",
                "FEDLORA_AGENT_DATA_DIR, FEDLORA_AGENT_WORK_DIR, ...); prefer FEDLORA_AGENT_TOKEN to --token,",
                "which other local users can read in the process list."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "  0:the federation ended (or the agent was stopped in-process)",
            "  1:cannot run: configuration, disk, or the coordinator stayed unreachable",
            "  2:bad command line",
            "  3:the coordinator refused this agent (bad or used token, revoked, name taken)",
            "143:stopped by SIGTERM (docker stop, kill); the work directory stays consistent"},
        footerHeading = "%nProperties:%n",
        footer = {"  --fedlora.agent.KEY=VALUE, --spring.KEY=VALUE, --logging.KEY=VALUE pass through to Spring,",
                "  e.g. --fedlora.agent.tls.enabled=true --fedlora.agent.tls.trust-cert=ca.pem"})
public final class AgentArguments extends SpringArguments {

    /** {@code --name=value} for the property prefixes the agent reads. */
    private static final Pattern PASS_THROUGH = Pattern.compile("--(fedlora\\.agent|spring|logging)\\.[A-Za-z0-9._\\[\\]-]+=.*",
            Pattern.DOTALL);
    private static final Pattern HOST_PORT = Pattern.compile("(\\[[0-9A-Fa-f:.]+]|[^\\s:/\\[\\]]+):(\\d{1,5})");

    @Option(names = "--coordinator", paramLabel = "HOST:PORT",
            description = "the coordinator's gRPC address (not its REST port), e.g. 127.0.0.1:9090")
    String coordinator;

    @Option(names = "--token", paramLabel = "TOKEN",
            description = "one-time enrolment token; only needed until WORK_DIR/credential.json exists")
    String token;

    @Option(names = "--name", paramLabel = "NAME",
            description = "this node's name, unique within the federation (default: the host name)")
    String name;

    @Option(names = {"--data", "--data-dir"}, paramLabel = "DIR",
            description = "directory holding train.jsonl and eval.jsonl")
    Path dataDir;

    @Option(names = "--work-dir", paramLabel = "DIR",
            description = "credential, model cache and pending upload (default ./agent-work)")
    Path workDir;

    @Option(names = "--base-model", paramLabel = "DIR",
            description = "an HF directory with the federation's base model (e.g. in the HF cache): checked against"
                    + " the coordinator's sha256 per tensor, it replaces the first full download")
    Path baseModel;

    @Option(names = "--omp-threads", paramLabel = "N",
            description = "native threads for ND4J's CPU backend; 0 keeps OMP_NUM_THREADS or the backend's default")
    Integer ompThreads;

    @Option(names = "--bad-lines", paramLabel = "skip|fail", description = "what a malformed data line does (default skip)")
    String badLines;

    @Option(names = "--heartbeat-interval", paramLabel = "DURATION", description = "e.g. 10s (the default) or 500ms")
    String heartbeatInterval;

    /** Options that start {@code daemon} when run. */
    public AgentArguments(Application daemon) {
        super(daemon);
    }

    /** Options only parsed (for {@link #toSpringArgs}, the README's usage). */
    public AgentArguments() {
    }

    /** The agent's command line, configured as every fedlora command is (the README's usage comes from here). */
    public static CommandLine commandLine() {
        return Cli.commandLine(new AgentArguments());
    }

    /** Parses {@code args} (throwing {@link CommandLine.ParameterException} on a bad one) into Spring arguments. */
    public static String[] toSpringArgs(String[] args) {
        return toSpringArgs(AgentArguments::new, args);
    }

    @Override
    protected Pattern passThrough() {
        return PASS_THROUGH;
    }

    /** The {@code fedlora.agent.*} properties these options stand for; refuses what the agent would not read. */
    @Override
    protected List<String> optionArgs(CommandLine cl) {
        Map<String, String> props = new LinkedHashMap<>();
        if (coordinator != null) {
            if (!coordinator.contains(":/") && !HOST_PORT.matcher(coordinator).matches()) {
                throw invalid(cl, "--coordinator", coordinator, "HOST:PORT (the gRPC port) or a gRPC target URI");
            }
            props.put("coordinator", coordinator);
        }
        put(cl, props, "--token", "token", token);
        put(cl, props, "--name", "name", name);
        put(cl, props, "--data", "data-dir", dataDir);
        put(cl, props, "--work-dir", "work-dir", workDir);
        put(cl, props, "--base-model", "base-model", baseModel);
        if (ompThreads != null) {
            if (ompThreads < 0) {
                throw invalid(cl, "--omp-threads", ompThreads.toString(), "0 or more");
            }
            props.put("omp-threads", ompThreads.toString());
        }
        if (badLines != null) {
            if (!badLines.equalsIgnoreCase("skip") && !badLines.equalsIgnoreCase("fail")) {
                throw invalid(cl, "--bad-lines", badLines, "skip or fail");
            }
            props.put("bad-lines", badLines.toLowerCase(java.util.Locale.ROOT));
        }
        if (heartbeatInterval != null) {
            try {
                Duration d = DurationStyle.detectAndParse(heartbeatInterval);
                if (d.isNegative() || d.isZero()) {
                    throw new IllegalArgumentException();
                }
            } catch (IllegalArgumentException e) {
                throw invalid(cl, "--heartbeat-interval", heartbeatInterval, "a positive duration such as 10s or 500ms");
            }
            props.put("heartbeat-interval", heartbeatInterval);
        }
        List<String> out = new ArrayList<>();
        props.forEach((k, v) -> out.add("--fedlora.agent." + k + "=" + v));
        return out;
    }

    private static void put(CommandLine cl, Map<String, String> props, String option, String key, Object value) {
        if (value != null) {
            if (value.toString().isBlank()) {
                throw invalid(cl, option, value.toString(), "a value that is not blank");
            }
            props.put(key, value.toString());
        }
    }
}
