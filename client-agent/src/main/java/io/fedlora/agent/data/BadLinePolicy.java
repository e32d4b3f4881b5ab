package io.fedlora.agent.data;

/** What reading a JSONL file does with a line it cannot use. Either way the line is reported with file and number. */
public enum BadLinePolicy {
    /** Log the line, leave it out, and go on. */
    SKIP,
    /** Stop with a {@link DatasetFormatException}. */
    FAIL
}
