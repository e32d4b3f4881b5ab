package io.fedlora.agent.initmodel;

/** One synthetic example and the family it belongs to. */
public record TaskExample(String prompt, String completion, TaskFamily family) {
}
