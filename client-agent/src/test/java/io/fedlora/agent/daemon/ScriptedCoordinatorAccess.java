package io.fedlora.agent.daemon;

import io.netty.handler.ssl.SslContext;

/** Lets tests in sub-packages start a {@link ScriptedCoordinator} without widening its visibility. */
public final class ScriptedCoordinatorAccess {

    private ScriptedCoordinatorAccess() {}

    public static AutoCloseable start(SslContext tls) throws java.io.IOException {
        return new ScriptedCoordinator(tls);
    }

    public static String target(AutoCloseable coordinator) {
        return ((ScriptedCoordinator) coordinator).target();
    }

    public static int enrolCalls(AutoCloseable coordinator) {
        return ((ScriptedCoordinator) coordinator).enrolCalls.get();
    }
}
