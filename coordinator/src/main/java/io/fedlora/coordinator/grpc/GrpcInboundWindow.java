package io.fedlora.coordinator.grpc;

import io.grpc.netty.NettyServerBuilder;
import org.springframework.grpc.server.ServerBuilderCustomizer;
import org.springframework.stereotype.Component;

/**
 * Sets the HTTP/2 flow-control window of what clients send ({@code fedlora.grpc.inbound-window}, 1 MiB by default,
 * fixed). It bounds one upload's speed over a long round trip (window / RTT: 64 KiB, the earlier default, allowed
 * about 640 KB/s at 100 ms) and what an upload may have in the coordinator's buffers before it is read. An upload on
 * the Upload call sends no data before {@link UploadAdmission} admits it, so only the few admitted ones use it; one on
 * the older UploadUpdate call cannot be told to wait, and holds up to a window while it does (a thousand of them at
 * 1 MiB held about 1.8 GB of direct buffers: lower the window where many agents predate Upload).
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
