package io.fedlora.coordinator.support;

import io.fedlora.coordinator.round.AcceptedUpdate;
import io.fedlora.coordinator.round.AcceptedUpdateListener;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Remembers every accepted update the upload path announced, for tests of that hook. */
public final class RecordingUpdateListener implements AcceptedUpdateListener {

    private final List<AcceptedUpdate> seen = new CopyOnWriteArrayList<>();

    @Override
    public void updateAccepted(AcceptedUpdate update) {
        seen.add(update);
    }

    public List<AcceptedUpdate> seen() {
        return List.copyOf(seen);
    }
}
