package io.fedlora.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Runs a picocli command the way every fedlora command behaves: {@code --help}/{@code --version} on stdout with
 * status 0; an unknown option or a bad value names the option on stderr, followed by the usage, status 2; a
 * {@link UserError} is one {@code error:} line, status 2; any other failure one {@code error:} line, status 1 (the
 * stack trace only with {@code FEDLORA_DEBUG=1}). Help is 100 columns wide whatever the terminal, so the README's
 * copy of it can be checked.
 */
public final class Cli {

    /** Columns of every usage text. */
    public static final int WIDTH = 100;

    private static final Map<String, String> STANDARD_EXIT_CODES = standardExitCodes();

    private Cli() {
    }

    /** A configured command line for {@code command} (and its subcommands), writing to stdout and stderr. */
    public static CommandLine commandLine(Object command) {
        CommandLine cl = new CommandLine(command);
        cl.setUsageHelpWidth(WIDTH);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        addExitCodes(cl);
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine failed = ex.getCommandLine();
            PrintWriter err = failed.getErr();
            err.println("error: " + ex.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, err);
            err.print(failed.getUsageMessage(Help.Ansi.OFF));
            err.flush();
            return ExitCode.USAGE;
        });
        cl.setExecutionExceptionHandler((ex, failed, parseResult) -> {
            PrintWriter err = failed.getErr();
            if (ex instanceof UserError) {
                err.println("error: " + ex.getMessage());
                err.flush();
                return ExitCode.USAGE;
            }
            for (String line : failureLines(ex)) {
                err.println(line);
            }
            if ("1".equals(System.getenv("FEDLORA_DEBUG"))) {
                ex.printStackTrace(err);
            } else {
                err.println("(" + ex.getClass().getName() + "; FEDLORA_DEBUG=1 prints the stack trace)");
            }
            err.flush();
            return ExitCode.FAILURE;
        });
        return cl;
    }

    /** Longest part of a wrapping exception's message repeated after the root cause. */
    static final int CONTEXT_CHARS = 200;

    /**
     * What a failure prints: the root cause's message first, because frameworks wrap it (Spring's bean-creation
     * chain makes the top message a thousand characters with the reason at the very end), then the top message,
     * shortened, as context when it says something else.
     */
    static java.util.List<String> failureLines(Throwable ex) {
        Throwable root = ex;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String rootMessage = root.getMessage() == null ? root.toString() : root.getMessage();
        java.util.List<String> lines = new java.util.ArrayList<>();
        lines.add("error: " + rootMessage);
        String top = ex.getMessage() == null ? ex.toString() : ex.getMessage();
        if (root != ex && !top.equals(rootMessage)) {
            String context = top.replace(rootMessage, "").strip();
            if (!context.isEmpty()) {
                lines.add("  while: " + (context.length() > CONTEXT_CHARS
                        ? context.substring(0, CONTEXT_CHARS) + "..." : context));
            }
        }
        return lines;
    }

    /** Parses {@code args}, runs the chosen (sub)command and returns its exit status; never calls {@code System.exit}. */
    public static int execute(Object command, String[] args, PrintStream out, PrintStream err) {
        CommandLine cl = commandLine(command);
        cl.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
        cl.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
        try {
            return cl.execute(args);
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** The plain-text usage of the subcommand at {@code path} under {@code root} (the README holds these). */
    public static String usage(CommandLine root, String... path) {
        CommandLine cl = root;
        for (String name : path) {
            cl = cl.getSubcommands().get(name);
            if (cl == null) {
                throw new IllegalArgumentException("no subcommand '" + name + "' under " + root.getCommandName());
            }
        }
        return cl.getUsageMessage(Help.Ansi.OFF);
    }

    private static void addExitCodes(CommandLine cl) {
        CommandSpec spec = cl.getCommandSpec();
        if (spec.usageMessage().exitCodeList().isEmpty()) {
            spec.usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(STANDARD_EXIT_CODES);
        }
        cl.getSubcommands().values().forEach(Cli::addExitCodes);
    }

    private static Map<String, String> standardExitCodes() {
        Map<String, String> codes = new LinkedHashMap<>();
        codes.put(" 0", "done");
        codes.put(" 1", "failed while running (the message says why)");
        codes.put(" 2", "bad command line or input (unknown option, bad value, missing file)");
        return codes;
    }

    /**
     * The unmatched arguments of a Spring-launching command that are properties it passes on ({@code allowed}
     * matches the whole argument); anything else is refused as picocli refuses an unknown option, with a hint when
     * a property was given without {@code =value}.
     */
    public static List<String> passThrough(CommandLine cl, List<String> unmatched, Pattern allowed) {
        for (String arg : unmatched) {
            if (!allowed.matcher(arg).matches()) {
                throw new CommandLine.ParameterException(cl, arg.startsWith("-")
                        ? "Unknown option: '" + arg + "'" + (arg.startsWith("--") && arg.contains(".") && !arg.contains("=")
                                ? " (properties take the form --key=value)" : "")
                        : "Unexpected argument: '" + arg + "'");
            }
        }
        return List.copyOf(unmatched);
    }
}
