package io.fedlora.coordinator.round;

/**
 * Told of every update the client API accepted, after its transaction committed and before the client gets
 * its receipt, on the upload's thread. The update is already durable: a listener that fails (its exception is
 * logged) loses nothing, because a restart rebuilds round state from the stored updates.
 */
public interface AcceptedUpdateListener {

    void updateAccepted(AcceptedUpdate update);
}
