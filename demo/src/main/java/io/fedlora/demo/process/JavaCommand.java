package io.fedlora.demo.process;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Java child process to start: classpath, JVM options, main class, arguments and extra
 * environment. A record so tests can build and inspect command lines without starting anything.
 */
public record JavaCommand(String name, String classpath, List<String> jvmOptions, String mainClass,
                          List<String> args, Map<String, String> environment) {

    public JavaCommand {
        jvmOptions = List.copyOf(jvmOptions);
        args = List.copyOf(args);
        environment = Map.copyOf(environment);
    }

    /** The full command line, starting with the java executable of this JVM. */
    public List<String> commandLine() {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(classpath);
        cmd.add(mainClass);
        cmd.addAll(args);
        return cmd;
    }

    /** A copy with more program arguments appended. */
    public JavaCommand withArgs(List<String> more) {
        List<String> all = new ArrayList<>(args);
        all.addAll(more);
        return new JavaCommand(name, classpath, jvmOptions, mainClass, all, environment);
    }

    /** A copy with more environment variables. */
    public JavaCommand withEnvironment(Map<String, String> more) {
        Map<String, String> all = new LinkedHashMap<>(environment);
        all.putAll(more);
        return new JavaCommand(name, classpath, jvmOptions, mainClass, args, all);
    }
}
