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
import java.util.function.Predicate;

/**
 * Who the PostgreSQL binaries run as. PostgreSQL refuses to run as root, so when the JVM is root every
 * PostgreSQL binary is started through {@code setpriv} as an unprivileged uid (65534, "nobody") with no
 * capabilities at all (effective, permitted, inheritable, ambient and, where the JVM may change it, bounding set
 * empty) and {@code no_new_privs}, so a SQL-level compromise of the server cannot read or write root's files or
 * regain privileges through a setuid program. The price: the data directory's parent folders must be searchable
 * by that uid, which {@link #requireReachable} checks before anything starts. Files the server must own are
 * chowned to that uid.
 *
 * @param unprivilegedUid uid to run as, or -1 to run as the JVM's own user
 * @param dropsBoundingSet whether the JVM holds CAP_SETPCAP and can therefore empty the bounding set as well
 */
record ProcessIdentity(int unprivilegedUid, boolean dropsBoundingSet) {

    /** uid/gid of "nobody", used when the JVM runs as root. */
    static final int NOBODY = 65534;

    private static final int CAP_SETPCAP = 8;

    /** Decides from the JVM's effective uid. */
    static ProcessIdentity detect() {
        if (currentUid() != 0) {
            return new ProcessIdentity(-1, false);
        }
        return new ProcessIdentity(NOBODY, (capabilities("CapEff:") & (1L << CAP_SETPCAP)) != 0);
    }

    boolean dropsPrivileges() {
        return unprivilegedUid >= 0;
    }

    /** A short description for the start-up log line. */
    String describe() {
        return dropsPrivileges()
                ? "running as uid " + unprivilegedUid + " via setpriv (JVM is root), no capabilities, no_new_privs"
                        + (dropsBoundingSet ? "" : " (bounding set left: the JVM lacks CAP_SETPCAP)")
                : "running as the JVM's user";
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
                "--clear-groups",
                "--inh-caps=-all",
                "--no-new-privs"));
        if (dropsBoundingSet) {
            wrapped.add("--bounding-set=-all");
        }
        wrapped.addAll(command);
        return wrapped;
    }

    /**
     * Fails, naming the folder, when the PostgreSQL user could not reach {@code path} (every ancestor must be
     * searchable by it; {@code path} itself is chowned to it later). Without capabilities a folder such as
     * {@code /root} (0700) on the way stops the server with an obscure "permission denied" otherwise.
     */
    void requireReachable(Path path, String what) {
        if (!dropsPrivileges()) {
            return;
        }
        Path absolute = path.toAbsolutePath().normalize();
        for (Path ancestor = absolute.getParent(); ancestor != null; ancestor = ancestor.getParent()) {
            if (!Files.exists(ancestor)) {
                continue; // created below by the JVM with a searchable mode
            }
            try {
                int mode = (Integer) Files.getAttribute(ancestor, "unix:mode");
                int uid = (Integer) Files.getAttribute(ancestor, "unix:uid");
                int gid = (Integer) Files.getAttribute(ancestor, "unix:gid");
                boolean searchable = uid == unprivilegedUid ? (mode & 0100) != 0
                        : gid == unprivilegedUid ? (mode & 0010) != 0
                        : (mode & 0001) != 0;
                if (!searchable) {
                    throw new EmbeddedPostgresException(String.format(
                            "The embedded PostgreSQL cannot reach its %s %s: the coordinator runs as root, so PostgreSQL "
                                    + "runs as uid %d with no capabilities, and folder %s (mode %04o, owner uid %d) is not "
                                    + "searchable by that uid. Put the %s below a folder others may enter (for example "
                                    + "--data-dir=/var/lib/fedlora), allow it with 'chmod o+x %s', or run the coordinator "
                                    + "as an ordinary user.",
                            what, absolute, unprivilegedUid, ancestor, mode & 07777, uid, what, ancestor));
                }
            } catch (IOException | UnsupportedOperationException e) {
                throw new EmbeddedPostgresException("Cannot check folder " + ancestor + " on the way to the " + what
                        + " " + absolute + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * Gives {@code root} and everything below it to the PostgreSQL user (no-op when not dropping privileges),
     * except files {@code keep} selects: those stay the JVM user's, out of the server's reach.
     */
    void takeOwnership(Path root, Predicate<Path> keep) throws IOException {
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
                if (!keep.test(file)) {
                    chown(file);
                }
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

    /** One capability set of this process from /proc/self/status; 0 when it cannot be read. */
    private static long capabilities(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field)) {
                    return Long.parseUnsignedLong(line.substring(field.length()).strip(), 16);
                }
            }
        } catch (IOException | NumberFormatException e) {
            // fall through
        }
        return 0L;
    }

    static int currentUid() {
        try {
            // /proc/self belongs to the process's effective uid
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "root".equals(System.getProperty("user.name")) ? 0 : 1000;
        }
    }
}
