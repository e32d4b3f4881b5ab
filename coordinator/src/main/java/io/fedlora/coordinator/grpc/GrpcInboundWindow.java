package io.fedlora.coordinator.grpc;

import io.grpc.netty.NettyServerBuilder;
import org.springframework.grpc.server.ServerBuilderCustomizer;
import org.springframework.stereotype.Component;

/**
 * Sets the HTTP/2 flow-control window of what clients send ({@code fedlora.grpc.inbound-window}, fixed, no
 * auto-tuning). An upload waiting for {@link UploadAdmission} asks for no message, so what its client sent meanwhile
 * sits in the coordinator's network buffers up to this window: with grpc-java's 1 MiB default a thousand GPT-2
 * uploads arriving together held about 1.8 GB of direct buffers; at 64 KiB they hold a few dozen MB and their
 * clients wait for a window update instead.
 */
@Component
class GrpcInboundWindow implements ServerBuilderCustomizer<NettyServerBuilder> {

    private final int window;

    GrpcInboundWindow(GrpcTransportProperties properties) {
        this.window = (int) properties.inboundWindow().toBytes();
    }

    @Override
    public void customize(NettyServerBuilder builder) {
        builder.flowControlWindow(window);
    }
}
