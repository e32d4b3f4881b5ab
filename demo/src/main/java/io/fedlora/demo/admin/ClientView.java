package io.fedlora.demo.admin;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One enrolled client as the clients endpoint lists it: its name and the state its last heartbeat carried
 * (the agent reports e.g. {@code "training round 2 step 40/150"}), which is how the demo shows training progress
 * without reading the agents' logs.
 */
public record ClientView(String name, String state) {

    private static final Pattern TRAINING = Pattern.compile("training round (\\d+) step (\\d+)/(\\d+)");

    /** Where this client is in its local training, if its last heartbeat said it was training. */
    public Optional<TrainingStep> trainingStep() {
        Matcher m = TRAINING.matcher(state == null ? "" : state);
        if (!m.matches()) {
            return Optional.empty();
        }
        return Optional.of(new TrainingStep(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                Integer.parseInt(m.group(3))));
    }

    /** A client's local training position in a round. */
    public record TrainingStep(int round, int step, int total) {
    }

    static ClientView from(JsonNode json) {
        JsonNode state = json.path("state");
        return new ClientView(json.path("name").asText(), state.isNull() || state.isMissingNode() ? null : state.asText());
    }
}
