package io.fedlora.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Unmatched;

/**
 * The command line of a command that starts a Spring application (the coordinator, the agent daemon), checked
 * before Spring starts so that {@code --help} and a typo never start anything. A subclass declares its options (short
 * forms of properties) and turns them into Spring arguments in {@link #optionArgs}; what picocli did not match passes
 * through only as {@code --KEY=VALUE} for the property prefixes {@link #passThrough()} allows, anything else is
 * refused like an unknown option (usage, exit status 2).
 */
public abstract class SpringArguments implements Callable<Integer> {

    /** What runs once the command line is good: the Spring application, given the Spring arguments. */
    @FunctionalInterface
    public interface Application {
        int run(String[] springArgs) throws Exception;
    }

    @Unmatched
    List<String> unmatched = new ArrayList<>();

    @Spec
    CommandSpec spec;

    private final Application application;

    /** Options that start {@code application} when run. */
    protected SpringArguments(Application application) {
        this.application = application;
    }

    /** Options only parsed (tests, the README's usage): running them is a bug. */
    protected SpringArguments() {
        this(springArgs -> {
            throw new IllegalStateException("this command line only parses");
        });
    }

    /** The {@code --KEY=VALUE} arguments this command passes on to Spring unchanged (the whole argument matches). */
    protected abstract Pattern passThrough();

    /** The Spring arguments the declared options stand for; throws {@link CommandLine.ParameterException} on a bad value. */
    protected abstract List<String> optionArgs(CommandLine cl);

    @Override
    public final Integer call() throws Exception {
        return application.run(springArgs(spec.commandLine()));
    }

    /** The Spring arguments of the parsed command line: the options' own, then the passed-through properties. */
    public final String[] springArgs(CommandLine cl) {
        List<String> out = new ArrayList<>(optionArgs(cl));
        out.addAll(Cli.passThrough(cl, unmatched, passThrough()));
        return out.toArray(String[]::new);
    }

    /** Parses {@code args} with a fresh parse-only instance (throwing on a bad one) into Spring arguments. */
    protected static String[] toSpringArgs(Supplier<? extends SpringArguments> parseOnly, String[] args) {
        SpringArguments a = parseOnly.get();
        CommandLine cl = Cli.commandLine(a);
        cl.parseArgs(args);
        return a.springArgs(cl);
    }

    /** A bad value, worded as picocli words its own: {@code Invalid value for option '--x': 'v' (expected ...)}. */
    protected static CommandLine.ParameterException invalid(CommandLine cl, String option, String value, String expected) {
        return new CommandLine.ParameterException(cl,
                "Invalid value for option '" + option + "': '" + value + "' (expected " + expected + ")");
    }
}
