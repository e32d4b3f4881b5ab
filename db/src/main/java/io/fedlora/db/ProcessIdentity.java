package io.fedlora.db;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;

/**
 * Who the PostgreSQL binaries run as. PostgreSQL refuses to run as root, so when the JVM is root every
 * PostgreSQL binary is started through {@code setpriv} as an unprivileged uid (65534, "nobody"), keeping
 * {@code CAP_DAC_OVERRIDE}/{@code CAP_DAC_READ_SEARCH} so it can still reach data directories below
 * root-only paths such as {@code /root}. Files it must own are chowned to that uid.
 *
 * @param unprivilegedUid uid to run as, or -1 to run as the JVM's own user
 * @param capabilities    capabilities kept across the uid change (those of dac_override/dac_read_search that the
 *                        bounding set allows; Docker's default set lacks dac_read_search, for instance)
 */
record ProcessIdentity(int unprivilegedUid, List<String> capabilities) {

    private static final int CAP_DAC_OVERRIDE = 1;
    private static final int CAP_DAC_READ_SEARCH = 2;

    ProcessIdentity {
        capabilities = List.copyOf(capabilities);
    }

    /** uid/gid of "nobody", used when the JVM runs as root. */
    static final int NOBODY = 65534;

    /** Decides from the JVM's effective uid. */
    static ProcessIdentity detect() {
        if (currentUid() != 0) {
            return new ProcessIdentity(-1, List.of());
        }
        long bounding = boundingCapabilities();
        List<String> caps = new ArrayList<>();
        if ((bounding & (1L << CAP_DAC_OVERRIDE)) != 0) {
            caps.add("dac_override");
        }
        if ((bounding & (1L << CAP_DAC_READ_SEARCH)) != 0) {
            caps.add("dac_read_search");
        }
        return new ProcessIdentity(NOBODY, caps);
    }

    boolean dropsPrivileges() {
        return unprivilegedUid >= 0;
    }

    /** The command line that runs {@code command} as the PostgreSQL user. */
    List<String> wrap(List<String> command) {
        if (!dropsPrivileges()) {
            return command;
        }
        List<String> wrapped = new ArrayList<>(List.of(
                "setpriv",
                "--reuid=" + unprivilegedUid,
                "--regid=" + unprivilegedUid,
                "--clear-groups"));
        if (!capabilities.isEmpty()) {
            String caps = String.join(",", capabilities.stream().map(c -> "+" + c).toList());
            wrapped.add("--inh-caps=" + caps);
            wrapped.add("--ambient-caps=" + caps);
        }
        wrapped.addAll(command);
        return wrapped;
    }

    /** Gives {@code root} and everything below it to the PostgreSQL user (no-op when not dropping privileges). */
    void takeOwnership(Path root) throws IOException {
        if (!dropsPrivileges() || !Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                chown(dir);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                chown(file);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /** True when {@code path} already belongs to the PostgreSQL user. */
    boolean owns(Path path) throws IOException {
        int expected = dropsPrivileges() ? unprivilegedUid : currentUid();
        return (Integer) Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS) == expected;
    }

    private void chown(Path path) throws IOException {
        Files.setAttribute(path, "unix:uid", unprivilegedUid, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(path, "unix:gid", unprivilegedUid, LinkOption.NOFOLLOW_LINKS);
    }

    /** CapBnd of this process; all bits set when it cannot be read (setpriv then reports what it cannot do). */
    private static long boundingCapabilities() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapBnd:")) {
                    return Long.parseUnsignedLong(line.substring("CapBnd:".length()).strip(), 16);
                }
            }
        } catch (IOException | NumberFormatException e) {
            // fall through
        }
        return -1L;
    }

    private static int currentUid() {
        try {
            // /proc/self belongs to the process's effective uid
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "root".equals(System.getProperty("user.name")) ? 0 : 1000;
        }
    }
}
