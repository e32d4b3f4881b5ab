package io.fedlora.coordinator.round;

import java.util.EnumSet;
import java.util.Set;

/**
 * States of one round attempt (mirrored by a CHECK constraint). {@code RETRIED}, {@code FAILED} and
 * {@code CANCELLED} end an attempt without a version; {@code PUBLISHED} ends it with one.
 */
public enum RoundStatus {
    SELECTING, COLLECTING, AGGREGATING, EVALUATING, PUBLISHED, RETRIED, FAILED, CANCELLED;

    /** Attempts still in progress. */
    public static final Set<RoundStatus> LIVE = EnumSet.of(SELECTING, COLLECTING, AGGREGATING, EVALUATING);
}
