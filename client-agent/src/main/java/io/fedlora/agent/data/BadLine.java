package io.fedlora.agent.data;

/** A skipped JSONL line: its 1-based number and why it was refused. */
public record BadLine(long line, String problem) {
}
