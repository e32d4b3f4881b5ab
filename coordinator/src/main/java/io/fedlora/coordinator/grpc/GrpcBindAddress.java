package io.fedlora.coordinator.grpc;

import io.grpc.netty.NettyServerBuilder;
import java.lang.reflect.Field;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.grpc.autoconfigure.server.GrpcServerProperties;
import org.springframework.grpc.server.ServerBuilderCustomizer;
import org.springframework.stereotype.Component;

/**
 * Makes the gRPC listener bind the host Spring gRPC is configured with ({@code spring.grpc.server.host}, which
 * {@code application.yml} sets from {@code fedlora.bind-address}: loopback by default, like the REST listener).
 *
 * <p>Why this exists: Spring gRPC 0.12 creates its Netty server with {@code Grpc.newServerBuilderForPort}, which
 * listens on every interface whatever {@code spring.grpc.server.host} says, and keeps the builder's address list
 * private. Replacing the factory would mean re-implementing its TLS and property mapping, so this customiser swaps
 * each wildcard listen address for the configured host on the same port and leaves everything else (TLS bundles,
 * Unix sockets, keep-alive) to Spring gRPC. Remove it once Spring gRPC binds the configured host itself.
 */
@Component
class GrpcBindAddress implements ServerBuilderCustomizer<NettyServerBuilder> {

    private static final Logger log = LoggerFactory.getLogger(GrpcBindAddress.class);

    /** The configured host, or null for Spring gRPC's "*" (every interface: nothing to swap). */
    private final InetAddress host;

    GrpcBindAddress(@Value("${spring.grpc.server.host:" + GrpcServerProperties.ANY_IP_ADDRESS + "}") String configured) {
        String name = configured.strip();
        try {
            this.host = name.equals(GrpcServerProperties.ANY_IP_ADDRESS) ? null : InetAddress.getByName(name);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(
                    "gRPC bind address '" + configured + "' (fedlora.bind-address) is not an address or a resolvable"
                            + " host name", e);
        }
    }

    @Override
    public void customize(NettyServerBuilder builder) {
        if (host == null) {
            return;
        }
        List<SocketAddress> addresses = listenAddresses(builder);
        addresses.replaceAll(address -> address instanceof InetSocketAddress inet && inet.getAddress().isAnyLocalAddress()
                ? new InetSocketAddress(host, inet.getPort())
                : address);
        log.debug("gRPC listens on {}", addresses);
    }

    @SuppressWarnings("unchecked")
    private static List<SocketAddress> listenAddresses(NettyServerBuilder builder) {
        try {
            Field field = NettyServerBuilder.class.getDeclaredField("listenAddresses");
            field.setAccessible(true);
            return (List<SocketAddress>) field.get(builder);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // fail the start rather than silently listening on every interface
            throw new IllegalStateException("cannot bind gRPC to fedlora.bind-address with this grpc-netty version", e);
        }
    }
}
