package io.fedlora.coordinator.round;

/** The {@code round_participants.status} values: a selected client reports once or is marked missed. */
public enum ParticipantStatus {
    SELECTED, REPORTED, MISSED;

    /** The status stored in the database, or null for a client that was not selected (null row). */
    public static ParticipantStatus parse(String stored) {
        return stored == null ? null : valueOf(stored);
    }
}
