package io.fedlora.coordinator.round;

/**
 * Told about every update after its transaction committed, on the upload thread, before the client's receipt is
 * sent. A listener's exception is logged and the upload stays accepted: the stored update is the record.
 */
public interface AcceptedUpdateListener {

    void updateAccepted(AcceptedUpdate u);
}
