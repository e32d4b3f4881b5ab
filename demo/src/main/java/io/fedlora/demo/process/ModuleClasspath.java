package io.fedlora.demo.process;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The runtime classpath of one built module of the checkout: its compiled classes (or jar) followed
 * by the dependency list {@code target/classpath.txt} that the build writes in the package phase.
 * Launching modules this way needs no fat jar and keeps each process on its own module's classpath.
 */
public final class ModuleClasspath {

    private ModuleClasspath() {
    }

    /**
     * @param home      repository root
     * @param moduleDir module directory name, e.g. {@code coordinator} or {@code client-agent}
     */
    public static String of(Path home, String moduleDir) {
        Path target = home.resolve(moduleDir).resolve("target");
        Path listFile = target.resolve("classpath.txt");
        if (!Files.isRegularFile(listFile)) {
            throw new IllegalStateException("module '" + moduleDir + "' is not built: " + listFile
                    + " is missing (run ./mvnw -pl " + moduleDir + " -am package -DskipTests)");
        }
        List<String> entries = new ArrayList<>();
        entries.add(moduleOutput(target, moduleDir).toString());
        try {
            String deps = Files.readString(listFile, StandardCharsets.UTF_8).trim();
            if (!deps.isEmpty()) {
                entries.add(deps);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + listFile, e);
        }
        return String.join(java.io.File.pathSeparator, entries);
    }

    private static Path moduleOutput(Path target, String moduleDir) {
        Path classes = target.resolve("classes");
        if (Files.isDirectory(classes)) {
            return classes;
        }
        try (DirectoryStream<Path> jars = Files.newDirectoryStream(target, "*.jar")) {
            for (Path jar : jars) {
                String name = jar.getFileName().toString();
                if (!name.endsWith("-sources.jar") && !name.endsWith("-tests.jar") && !name.endsWith("-javadoc.jar")) {
                    return jar;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + target, e);
        }
        throw new IllegalStateException("module '" + moduleDir + "' has neither target/classes nor a jar in " + target);
    }
}
