package io.fedlora.demo.process;

import java.net.URI;

/** A started coordinator: its process and the addresses and key to talk to it. */
public record CoordinatorProcess(ChildProcess process, CoordinatorSettings settings) {

    /** REST base URL, {@code http://127.0.0.1:<port>}. */
    public URI baseUri() {
        return URI.create("http://127.0.0.1:" + settings.httpPort());
    }

    /** gRPC address for agents, {@code 127.0.0.1:<port>}. */
    public String grpcAddress() {
        return "127.0.0.1:" + settings.grpcPort();
    }

    public String apiKey() {
        return settings.apiKey();
    }
}
