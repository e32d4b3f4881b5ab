/**
 * The coordinator's gRPC transport: the {@code fedlora.v1.Federation} service in front of
 * {@link io.fedlora.coordinator.clientapi.ClientGateway}.
 *
 * <h2>Transport limits ({@code fedlora.grpc.*}, see {@link io.fedlora.coordinator.grpc.GrpcTransportProperties})</h2>
 * <pre>
 * fedlora.grpc.max-upload-bytes=512MB   # largest update one upload may declare or send (RESOURCE_EXHAUSTED above)
 * fedlora.grpc.max-poll-wait=30s        # cap on a GetTask long poll
 * fedlora.grpc.max-waiting-polls=20000  # long polls waiting at once (no thread each); beyond that RESOURCE_EXHAUSTED
 * fedlora.grpc.handler-threads=16       # fixed pool running the service's handlers (grpc-java's default is unbounded)
 * fedlora.grpc.chunk-bytes=1MB          # TensorData chunk size sent to agents (at most 1 MiB)
 * fedlora.grpc.heartbeat-interval=10s   # interval suggested in HeartbeatResponse
 * </pre>
 *
 * <h2>TLS and mutual TLS</h2>
 * Spring gRPC's Netty server takes its certificates from a Spring SSL bundle; no code is involved.
 * Server-side TLS (agents verify the coordinator):
 * <pre>
 * spring.ssl.bundle.pem.fedlora-grpc.keystore.certificate=file:/etc/fedlora/tls/server.crt   # chain, PEM
 * spring.ssl.bundle.pem.fedlora-grpc.keystore.private-key=file:/etc/fedlora/tls/server.key   # PKCS#8 PEM
 * spring.grpc.server.ssl.bundle=fedlora-grpc
 * </pre>
 * Mutual TLS (the coordinator also requires a client certificate issued by your CA) adds:
 * <pre>
 * spring.ssl.bundle.pem.fedlora-grpc.truststore.certificate=file:/etc/fedlora/tls/clients-ca.crt
 * spring.grpc.server.ssl.client-auth=REQUIRE
 * spring.grpc.server.ssl.secure=true    # the default; false would accept client certificates from anyone
 * </pre>
 * A JKS/PKCS#12 bundle ({@code spring.ssl.bundle.jks.<name>.keystore.location} ...) works the same way.
 * mTLS authenticates the node's machine; the bearer credential from Enrol still authenticates the
 * client on every call ({@link io.fedlora.coordinator.grpc.BearerAuthInterceptor}).
 * {@code GrpcMutualTlsTest} exercises exactly these properties.
 */
package io.fedlora.coordinator.grpc;
