package io.fedlora.agent.daemon.work;

import io.fedlora.agent.daemon.cache.CachedVersion;
import io.fedlora.agent.model.Gpt2Model;
import java.nio.file.Path;

/**
 * Keeps the most recently loaded base model in memory, so that training a version and then evaluating it
 * (or training the next round from an unchanged base) does not re-read the weights from disk.
 */
public final class LoadedModels {

    private Path loadedDir;
    private Gpt2Model loaded;

    public synchronized Gpt2Model get(CachedVersion version) {
        Path dir = version.dir().toAbsolutePath().normalize();
        if (!dir.equals(loadedDir)) {
            loaded = null;
            loaded = Gpt2Model.load(dir);
            loadedDir = dir;
        }
        return loaded;
    }
}
