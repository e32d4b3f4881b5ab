package io.fedlora.agent.daemon.upload;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.agent.daemon.files.AtomicFiles;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Durable home of at most one {@link PendingUpload}: {@code pending-upload.safetensors} (the factors, fp32)
 * is written first, then {@code pending-upload.json}; the JSON's presence is the commit point.
 */
public final class PendingUploadStore {

    private static final Logger log = LoggerFactory.getLogger(PendingUploadStore.class);

    private final Path recordFile;
    private final Path tensorFile;
    private final ObjectMapper json = new ObjectMapper();

    public PendingUploadStore(Path workDir) {
        this.recordFile = workDir.resolve("pending-upload.json");
        this.tensorFile = workDir.resolve("pending-upload.safetensors");
    }

    public void save(PendingUpload upload, Map<String, INDArray> tensors) throws IOException {
        Files.deleteIfExists(recordFile);
        Files.createDirectories(tensorFile.toAbsolutePath().getParent());
        SafetensorsWriter.write(tensorFile, tensors, Map.of("upload_id", upload.uploadId()), DType.F32);
        AtomicFiles.write(recordFile, json.writerWithDefaultPrettyPrinter().writeValueAsBytes(upload));
    }

    public Optional<PendingUpload> load() {
        if (!Files.exists(recordFile)) {
            return Optional.empty();
        }
        try {
            PendingUpload upload = json.readValue(recordFile.toFile(), PendingUpload.class);
            if (!Files.exists(tensorFile)) {
                log.warn("pending upload {} has no tensor file {}; dropping it", upload.uploadId(), tensorFile);
                clear();
                return Optional.empty();
            }
            return Optional.of(upload);
        } catch (IOException e) {
            log.warn("pending upload record {} is unreadable ({}); dropping it", recordFile, e.getMessage());
            clear();
            return Optional.empty();
        }
    }

    /** Reads one tensor of the pending update as fp32. */
    public INDArray tensor(String name) throws IOException {
        try (SafetensorsReader reader = SafetensorsReader.open(tensorFile)) {
            if (!reader.tensors().containsKey(name)) {
                throw new IOException(tensorFile + " lacks tensor " + name);
            }
            return reader.readFloat(name).dup();
        }
    }

    public void clear() {
        try {
            Files.deleteIfExists(recordFile);
            Files.deleteIfExists(tensorFile);
            AtomicFiles.fsyncDirectory(recordFile.toAbsolutePath().getParent());
        } catch (IOException e) {
            log.warn("cannot remove the pending upload files: {}", e.getMessage());
        }
    }
}
