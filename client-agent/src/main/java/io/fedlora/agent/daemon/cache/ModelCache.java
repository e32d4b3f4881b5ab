package io.fedlora.agent.daemon.cache;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.agent.daemon.files.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Model versions held by this agent, under {@code work-dir/models/<federation>/v<N>/}. An entry appears
 * only complete: it is assembled in a temporary directory, fsynced and renamed into place, and a
 * {@code current} pointer names the newest one. Only the {@value #KEEP} newest versions are kept.
 */
public final class ModelCache {

    public static final int KEEP = 2;
    private static final Logger log = LoggerFactory.getLogger(ModelCache.class);
    private static final Pattern VERSION_DIR = Pattern.compile("v(\\d+)");
    private static final Pattern SAFE_ID = Pattern.compile("[A-Za-z0-9._-]{1,128}");
    private static final String TMP_PREFIX = ".tmp-";

    private final Path root;
    private final ObjectMapper json = new ObjectMapper();

    public ModelCache(Path workDir) {
        this.root = workDir.resolve("models");
    }

    /** Removes temporary directories a killed agent may have left half-written. */
    public void removeLeftovers() throws IOException {
        if (!Files.isDirectory(root)) {
            return;
        }
        try (DirectoryStream<Path> feds = Files.newDirectoryStream(root, Files::isDirectory)) {
            for (Path fed : feds) {
                try (DirectoryStream<Path> tmps = Files.newDirectoryStream(fed, TMP_PREFIX + "*")) {
                    for (Path tmp : tmps) {
                        log.info("removing unfinished cache entry {}", tmp);
                        AtomicFiles.deleteTree(tmp);
                    }
                }
            }
        }
    }

    public Optional<CachedVersion> get(String federationId, long version) {
        Path dir = federationDir(federationId).resolve("v" + version);
        return Files.isDirectory(dir) ? Optional.of(new CachedVersion(federationId, version, dir)) : Optional.empty();
    }

    /** The newest complete version of this federation, if any. */
    public Optional<CachedVersion> newest(String federationId) throws IOException {
        List<CachedVersion> all = versions(federationId);
        return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
    }

    /** Version number of {@link #newest(String)}, or -1 (the protocol's "none"). */
    public long newestVersion(String federationId) {
        try {
            return newest(federationId).map(CachedVersion::version).orElse(-1L);
        } catch (IOException e) {
            log.warn("cannot list the model cache: {}", e.getMessage());
            return -1;
        }
    }

    /** Complete versions of a federation, oldest first. */
    public List<CachedVersion> versions(String federationId) throws IOException {
        Path fed = federationDir(federationId);
        List<CachedVersion> out = new ArrayList<>();
        if (!Files.isDirectory(fed)) {
            return out;
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(fed, Files::isDirectory)) {
            for (Path d : dirs) {
                Matcher m = VERSION_DIR.matcher(d.getFileName().toString());
                if (m.matches()) {
                    out.add(new CachedVersion(federationId, Long.parseLong(m.group(1)), d));
                }
            }
        }
        out.sort(Comparator.comparingLong(CachedVersion::version));
        return out;
    }

    /** A fresh temporary directory in which a version is assembled before {@link #publish}. */
    public Path newStagingDir(String federationId, long version) throws IOException {
        Path fed = federationDir(federationId);
        Files.createDirectories(fed);
        return Files.createDirectory(fed.resolve(TMP_PREFIX + "v" + version + "-" + System.nanoTime()));
    }

    /**
     * Makes a fully written staging directory the cache entry of {@code version}, moves the
     * {@code current} pointer to it and evicts all but the {@value #KEEP} newest versions.
     */
    public CachedVersion publish(String federationId, long version, long builtFrom, Path stagingDir) throws IOException {
        AtomicFiles.write(stagingDir.resolve(CachedVersion.VERSION_FILE), json.writerWithDefaultPrettyPrinter()
                .writeValueAsBytes(Map.of("federation_id", federationId, "version", version, "built_from", builtFrom)));
        Path target = federationDir(federationId).resolve("v" + version);
        AtomicFiles.publishDirectory(stagingDir, target);
        List<CachedVersion> all = versions(federationId);
        long newest = all.get(all.size() - 1).version();
        AtomicFiles.write(federationDir(federationId).resolve("current"),
                (newest + "\n").getBytes(StandardCharsets.US_ASCII));
        for (int i = 0; i < all.size() - KEEP; i++) {
            log.info("evicting cached model version {}", all.get(i).version());
            // rename first so a crash mid-delete never leaves a partial entry that looks complete
            Path doomed = federationDir(federationId).resolve(TMP_PREFIX + "evict-" + all.get(i).dir().getFileName());
            Files.move(all.get(i).dir(), doomed, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            AtomicFiles.deleteTree(doomed);
        }
        return new CachedVersion(federationId, version, target);
    }

    private Path federationDir(String federationId) {
        if (federationId == null || !SAFE_ID.matcher(federationId).matches()) {
            throw new IllegalArgumentException("federation id unsuitable as a directory name: " + federationId);
        }
        return root.resolve(federationId);
    }
}
