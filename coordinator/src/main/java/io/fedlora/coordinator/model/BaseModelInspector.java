package io.fedlora.coordinator.model;

import io.fedlora.aggregation.family.AdaptableModule;
import io.fedlora.aggregation.family.Checkpoint;
import io.fedlora.aggregation.family.ModelFamilies;
import io.fedlora.aggregation.family.ModelSpec;
import io.fedlora.aggregation.family.UnsupportedModelException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * Reads an HF model directory ({@code config.json} + {@code model.safetensors}, or the shards a
 * {@code model.safetensors.index.json} names), validates it with its model family
 * (the same code the agents load it with, so a model is accepted only if the agents compute it exactly as HF does)
 * and resolves target module names such as {@code c_attn} or {@code q_proj} to every matching layer, each with the
 * weight layout its family stores it in.
 */
@Component
public class BaseModelInspector {

    private static final Logger log = LoggerFactory.getLogger(BaseModelInspector.class);

    /** Auxiliary files of a model directory that clients need besides the weights. */
    public static final List<String> AUX_FILES =
            List.of("config.json", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
                    "generation_config.json", "special_tokens_map.json");

    public BaseModelDirectory inspect(String baseModelPath, List<String> targetModules) {
        return inspect("baseModelPath", baseModelPath, targetModules);
    }

    /**
     * As {@link #inspect(String, List)}, naming {@code field} (the request field that gave the path) in errors. The
     * path comes from a request, so nothing is followed or trusted: the directory itself and every file read must be
     * a real directory or regular file (no symbolic link, FIFO or device), only the files the format names are read,
     * and a path that is not a model directory is answered the same whether or not it exists.
     */
    public BaseModelDirectory inspect(String field, String baseModelPath, List<String> targetModules) {
        Path dir;
        try {
            dir = Path.of(baseModelPath).toAbsolutePath().normalize();
        } catch (java.nio.file.InvalidPathException e) {
            throw new InvalidModelException(field, "not a valid file system path");
        }
        if (!isReal(dir, true) || !isReal(dir.resolve(ModelFamilies.CONFIG_FILE), false)) {
            throw new InvalidModelException(field, NOT_A_MODEL_DIRECTORY);
        }
        return inspectFiles(field, dir, targetModules, true);
    }

    /** A registered model's snapshot, laid out by the registry itself as links into the blob store. */
    public BaseModelDirectory inspect(String field, BaseModelRegistry.LinkedDirectory snapshot, List<String> targetModules) {
        return inspectFiles(field, snapshot.dir(), targetModules, false);
    }

    static final String NOT_A_MODEL_DIRECTORY = "not a model directory (give a directory on the coordinator holding "
            + "config.json and model.safetensors, or model.safetensors.index.json and its shards, as regular files; "
            + "symbolic links are not followed)";

    /** Whether {@code p} is a directory (or regular file) in its own right: a symbolic link to one is not. */
    private static boolean isReal(Path p, boolean directory) {
        try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            return directory ? a.isDirectory() : a.isRegularFile();
        } catch (IOException | SecurityException e) {
            return false;
        }
    }

    /** Whether anything at all (a dangling link included) is at {@code p}. */
    private static boolean present(Path p) {
        return Files.exists(p, LinkOption.NOFOLLOW_LINKS);
    }

    private BaseModelDirectory inspectFiles(String field, Path dir, List<String> targetModules, boolean untrusted) {
        boolean single = present(dir.resolve(Checkpoint.SINGLE_FILE));
        if (!single && !present(dir.resolve(Checkpoint.INDEX_FILE))) {
            throw new InvalidModelException(field, "the model directory has no model.safetensors (nor "
                    + Checkpoint.INDEX_FILE + " with its shards)");
        }
        if (untrusted) {
            for (String name : readFiles()) {
                Path p = dir.resolve(name);
                if (present(p) && !isReal(p, false)) {
                    throw new InvalidModelException(field, name + " in the model directory is a symbolic link or not a "
                            + "regular file: refused (copy the file itself into the directory)");
                }
            }
        }
        List<Path> weights;
        try {
            // HF's order: model.safetensors when present, else the index; only the files the index names are opened,
            // each refused unopened if it is not a regular file in its own right
            weights = Checkpoint.files(dir, !untrusted);
        } catch (UnsupportedModelException e) {
            throw new InvalidModelException(field, e.getMessage());
        } catch (IOException | RuntimeException e) {
            log.debug("cannot read the shard index in {}", dir, e);
            throw new InvalidModelException(field, Checkpoint.INDEX_FILE + " in the model directory is not readable ("
                    + e.getClass().getSimpleName() + ")");
        }
        ModelSpec spec;
        String prefix;
        try {
            spec = ModelFamilies.read(dir);
            try (Checkpoint checkpoint = Checkpoint.open(dir, !untrusted)) {
                prefix = checkpoint.checkAgainst(spec);
            }
        } catch (UnsupportedModelException e) {
            throw new InvalidModelException(field, dir + ": the agents cannot train this model exactly as HF computes it: "
                    + fieldDescription(e.field()) + " " + e.getMessage().substring(e.field().length() + 2));
        } catch (IOException | RuntimeException e) {
            // the message of a parser can quote the file: it stays in the debug log, not in the answer
            log.debug("cannot read the model in {}", dir, e);
            throw new InvalidModelException(field, "config.json or the weights in the model directory are not a "
                    + "readable Hugging Face model (" + e.getClass().getSimpleName() + ")");
        }
        List<LayerShape> layers;
        try {
            layers = targetModules.isEmpty() ? List.of() : spec.resolveTargets(targetModules).stream()
                    .map(BaseModelInspector::shape).toList();
        } catch (UnsupportedModelException e) {
            throw new InvalidModelException(e.field(), e.getMessage().substring(e.field().length() + 2));
        }
        Map<String, Path> aux = new LinkedHashMap<>();
        for (String name : AUX_FILES) {
            Path p = dir.resolve(name);
            if (untrusted ? isReal(p, false) : Files.isRegularFile(p)) {
                aux.put(name, p);
            }
        }
        return new BaseModelDirectory(dir, weights, aux, layers, prefix, spec);
    }

    /**
     * Every file the coordinator reads from a model directory by a fixed name: the auxiliary files, the single weights
     * file and the shard index; the shards are the index's plain file names, checked as {@link Checkpoint} opens them.
     */
    static List<String> readFiles() {
        List<String> names = new java.util.ArrayList<>(AUX_FILES);
        names.add(Checkpoint.SINGLE_FILE);
        names.add(Checkpoint.INDEX_FILE);
        return names;
    }

    private static LayerShape shape(AdaptableModule m) {
        return new LayerShape(m.name(), m.dOut(), m.dIn(), m.layout());
    }

    private static String fieldDescription(String field) {
        if (field.equals(Checkpoint.INDEX_FILE) || field.equals(Checkpoint.SINGLE_FILE)) {
            return "file '" + field + "'";
        }
        return field.endsWith(".weight") || field.endsWith(".bias") ? "weight '" + field + "'"
                : "config.json field '" + field + "'";
    }
}
