package io.fedlora.agent.daemon.work;

import io.fedlora.agent.daemon.cache.CachedVersion;
import io.fedlora.agent.model.CausalLm;
import io.fedlora.agent.model.CausalLms;
import java.nio.file.Path;

/**
 * Keeps the most recently loaded base model in memory, so that training a version and then evaluating it
 * (or training the next round from an unchanged base) does not re-read the weights from disk.
 */
public final class LoadedModels {

    private Path loadedDir;
    private CausalLm loaded;

    public synchronized CausalLm get(CachedVersion version) {
        Path dir = version.dir().toAbsolutePath().normalize();
        if (!dir.equals(loadedDir)) {
            loaded = null;
            loaded = CausalLms.load(dir);
            loadedDir = dir;
        }
        return loaded;
    }
}
