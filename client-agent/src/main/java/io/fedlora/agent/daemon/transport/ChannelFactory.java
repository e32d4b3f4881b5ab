package io.fedlora.agent.daemon.transport;

import io.fedlora.agent.daemon.AgentProperties;
import io.grpc.ManagedChannel;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.concurrent.TimeUnit;

/**
 * Builds the one channel an agent keeps to its coordinator: plaintext for loopback demos, TLS with a
 * pinned CA ({@code tls.trust-cert}) and optionally a client certificate for mTLS. Keepalive lets a
 * long poll notice a vanished coordinator instead of waiting for its deadline.
 */
public final class ChannelFactory {

    private ChannelFactory() {}

    public static ManagedChannel create(AgentProperties props) {
        String target = props.coordinator();
        if (target == null || target.isBlank()) {
            throw new IllegalStateException("fedlora.agent.coordinator (--coordinator HOST:PORT) is not set");
        }
        NettyChannelBuilder builder = NettyChannelBuilder.forTarget(target)
                .keepAliveTime(30, TimeUnit.SECONDS)
                .keepAliveTimeout(10, TimeUnit.SECONDS)
                .keepAliveWithoutCalls(false)
                // retries are ours (with the idempotency the protocol defines), not the channel's
                .disableRetry();
        AgentProperties.Tls tls = props.tls();
        if (tls != null && tls.enabled()) {
            builder.useTransportSecurity().sslContext(sslContext(tls));
            if (tls.authority() != null && !tls.authority().isBlank()) {
                builder.overrideAuthority(tls.authority());
            }
        } else {
            builder.usePlaintext();
        }
        return builder.build();
    }

    private static io.netty.handler.ssl.SslContext sslContext(AgentProperties.Tls tls) {
        try {
            SslContextBuilder ssl = GrpcSslContexts.forClient();
            if (tls.trustCert() != null) {
                requireReadable(tls.trustCert().toFile().toPath(), "fedlora.agent.tls.trust-cert");
                ssl.trustManager(tls.trustCert().toFile());
            }
            if (tls.clientCert() != null || tls.clientKey() != null) {
                if (tls.clientCert() == null || tls.clientKey() == null) {
                    throw new IllegalStateException(
                            "mTLS needs both fedlora.agent.tls.client-cert and fedlora.agent.tls.client-key");
                }
                requireReadable(tls.clientCert(), "fedlora.agent.tls.client-cert");
                requireReadable(tls.clientKey(), "fedlora.agent.tls.client-key");
                ssl.keyManager(tls.clientCert().toFile(), tls.clientKey().toFile());
            }
            return ssl.build();
        } catch (javax.net.ssl.SSLException e) {
            throw new IllegalStateException("cannot set up TLS towards the coordinator: " + e.getMessage(), e);
        }
    }

    private static void requireReadable(java.nio.file.Path file, String setting) {
        if (!Files.isReadable(file)) {
            throw new UncheckedIOException(new IOException(setting + " points to " + file + ", which cannot be read"));
        }
    }
}
