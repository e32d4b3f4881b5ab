package io.fedlora.coordinator.grpc;

import com.google.protobuf.MessageLite;
import io.fedlora.proto.v1.FederationGrpc;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.grpc.server.GlobalServerInterceptor;
import org.springframework.stereotype.Component;

/** Feeds the serialized size of every Federation message, in and out, to {@link GrpcMetrics}. */
@Component
@GlobalServerInterceptor
@Order(Ordered.HIGHEST_PRECEDENCE + 50)
public class ByteCountingInterceptor implements ServerInterceptor {

    private final GrpcMetrics metrics;

    public ByteCountingInterceptor(GrpcMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(
            ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        if (!FederationGrpc.SERVICE_NAME.equals(call.getMethodDescriptor().getServiceName())) {
            return next.startCall(call, headers);
        }
        ServerCall<Q, R> counting = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void sendMessage(R message) {
                if (message instanceof MessageLite m) {
                    metrics.bytesOut(m.getSerializedSize());
                }
                super.sendMessage(message);
            }
        };
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(counting, headers)) {
            @Override
            public void onMessage(Q message) {
                if (message instanceof MessageLite m) {
                    metrics.bytesIn(m.getSerializedSize());
                }
                super.onMessage(message);
            }
        };
    }
}
