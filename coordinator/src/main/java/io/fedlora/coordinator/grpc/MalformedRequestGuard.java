package io.fedlora.coordinator.grpc;

import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Attributes;
import io.grpc.SecurityLevel;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes a request frame that does not parse as its method's message (garbage bytes, a truncated message) the
 * client's error: the call closes with INVALID_ARGUMENT naming what was wrong, logged at WARN without a stack
 * trace. Without it gRPC's own parse failure escapes into the transport, which answers UNKNOWN ("Application
 * error processing RPC") and logs a stack trace at ERROR. Every method of the wrapped service is guarded: the
 * parse moves from the transport into a call handler that can answer.
 */
final class MalformedRequestGuard {

    private static final Logger log = LoggerFactory.getLogger(MalformedRequestGuard.class);

    /** What a request frame parsed to when it was not a valid message. */
    private record Malformed(String reason) {}

    private MalformedRequestGuard() {}

    /**
     * The same service, its request parsing guarded; {@code onRefused} hears the bare name of the method whose
     * call was refused (for metrics).
     */
    static ServerServiceDefinition guard(ServerServiceDefinition service, Consumer<String> onRefused) {
        List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
        ServiceDescriptor original = service.getServiceDescriptor();
        ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
                .setSchemaDescriptor(original.getSchemaDescriptor());
        for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
            ServerMethodDefinition<?, ?> guarded = guardMethod(m, onRefused);
            descriptor.addMethod(guarded.getMethodDescriptor());
            methods.add(guarded);
        }
        ServerServiceDefinition.Builder out = ServerServiceDefinition.builder(descriptor.build());
        methods.forEach(out::addMethod);
        return out.build();
    }

    private static <Q, R> ServerMethodDefinition<Object, R> guardMethod(ServerMethodDefinition<Q, R> definition,
            Consumer<String> onRefused) {
        MethodDescriptor<Q, R> method = definition.getMethodDescriptor();
        MethodDescriptor<Object, R> tolerant = method.toBuilder(new TolerantMarshaller<>(method),
                method.getResponseMarshaller()).build();
        ServerCallHandler<Q, R> next = definition.getServerCallHandler();
        ServerCallHandler<Object, R> handler = (call, headers) -> {
            GuardedCall<Q, R> guarded = new GuardedCall<>(call, method);
            ServerCall.Listener<Q> inner = next.startCall(guarded, headers);
            return new GuardedListener<>(inner, guarded, onRefused);
        };
        return ServerMethodDefinition.create(tolerant, handler);
    }

    /** Parses with the method's own marshaller, turning a parse failure into a {@link Malformed} value. */
    private static final class TolerantMarshaller<Q> implements MethodDescriptor.Marshaller<Object> {
        private final MethodDescriptor<Q, ?> method;

        TolerantMarshaller(MethodDescriptor<Q, ?> method) {
            this.method = method;
        }

        @Override
        @SuppressWarnings("unchecked")
        public InputStream stream(Object value) {
            return method.streamRequest((Q) value);
        }

        @Override
        public Object parse(InputStream stream) {
            try {
                return method.parseRequest(stream);
            } catch (RuntimeException e) {
                Throwable cause = e.getCause() != null ? e.getCause() : e;
                String detail = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
                return new Malformed("a " + method.getBareMethodName() + " request frame is not a valid message: "
                        + detail);
            }
        }
    }

    /** Delivers parsed messages; on a malformed one closes the call and tells the application it was cancelled. */
    private static final class GuardedListener<Q, R> extends ServerCall.Listener<Object> {
        private final ServerCall.Listener<Q> inner;
        private final GuardedCall<Q, R> call;
        private final Consumer<String> onRefused;
        private boolean refused;

        GuardedListener(ServerCall.Listener<Q> inner, GuardedCall<Q, R> call, Consumer<String> onRefused) {
            this.inner = inner;
            this.call = call;
            this.onRefused = onRefused;
        }

        @Override
        @SuppressWarnings("unchecked")
        public void onMessage(Object message) {
            if (refused) {
                return;
            }
            if (message instanceof Malformed bad) {
                refused = true;
                log.warn("Refused a {} call from {}: {}", call.getMethodDescriptor().getBareMethodName(),
                        call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), bad.reason());
                onRefused.accept(call.getMethodDescriptor().getBareMethodName());
                call.refuse(Status.INVALID_ARGUMENT.withDescription(bad.reason()));
                // to the application the call ends as if the client went away: it releases what it holds
                inner.onCancel();
                return;
            }
            inner.onMessage((Q) message);
        }

        @Override
        public void onHalfClose() {
            if (!refused) {
                inner.onHalfClose();
            }
        }

        @Override
        public void onCancel() {
            if (!refused) {
                inner.onCancel();
            }
        }

        @Override
        public void onComplete() {
            if (!refused) {
                inner.onComplete();
            }
        }

        @Override
        public void onReady() {
            if (!refused) {
                inner.onReady();
            }
        }
    }

    /**
     * The call as the application sees it (its own request type); once the guard refused the call, whatever
     * the application still sends or closes with is dropped.
     */
    private static final class GuardedCall<Q, R> extends ServerCall<Q, R> {
        private final ServerCall<Object, R> delegate;
        private final MethodDescriptor<Q, R> method;
        private boolean closed;
        private boolean refused;

        GuardedCall(ServerCall<Object, R> delegate, MethodDescriptor<Q, R> method) {
            this.delegate = delegate;
            this.method = method;
        }

        @Override
        public MethodDescriptor<Q, R> getMethodDescriptor() {
            return method;
        }

        @Override
        public void request(int numMessages) {
            delegate.request(numMessages);
        }

        @Override
        public synchronized void sendHeaders(Metadata headers) {
            if (!closed) {
                delegate.sendHeaders(headers);
            }
        }

        @Override
        public synchronized void sendMessage(R message) {
            if (!closed) {
                delegate.sendMessage(message);
            }
        }

        @Override
        public synchronized void close(Status status, Metadata trailers) {
            if (!closed) {
                closed = true;
                delegate.close(status, trailers);
            }
        }

        @Override
        public synchronized boolean isCancelled() {
            return refused || delegate.isCancelled();
        }

        @Override
        public boolean isReady() {
            return delegate.isReady();
        }

        @Override
        public void setOnReadyThreshold(int numBytes) {
            delegate.setOnReadyThreshold(numBytes);
        }

        @Override
        public void setMessageCompression(boolean enabled) {
            delegate.setMessageCompression(enabled);
        }

        @Override
        public void setCompression(String compressor) {
            delegate.setCompression(compressor);
        }

        @Override
        public SecurityLevel getSecurityLevel() {
            return delegate.getSecurityLevel();
        }

        @Override
        public Attributes getAttributes() {
            return delegate.getAttributes();
        }

        @Override
        public String getAuthority() {
            return delegate.getAuthority();
        }

        synchronized void refuse(Status status) {
            refused = true;
            close(status, new Metadata());
        }
    }
}
