package io.fedlora.coordinator.grpc;

import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientApiException;
import io.fedlora.coordinator.clientapi.ClientGateway;
import io.fedlora.proto.v1.FederationGrpc;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.grpc.server.GlobalServerInterceptor;
import org.springframework.stereotype.Component;

/**
 * Authenticates every Federation RPC except Enrol from its {@code authorization: Bearer <credential>}
 * header and exposes the client through {@link #currentClient()}. Other services on the server (health,
 * reflection) are left alone. The credential is never logged.
 */
@Component
@GlobalServerInterceptor
@Order(Ordered.HIGHEST_PRECEDENCE + 100)
public class BearerAuthInterceptor implements ServerInterceptor {

    static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final Context.Key<AuthenticatedClient> CLIENT = Context.key("fedlora-authenticated-client");
    private static final String BEARER = "bearer ";

    private final ClientGateway gateway;

    public BearerAuthInterceptor(ClientGateway gateway) {
        this.gateway = gateway;
    }

    /** The client authenticated for the current call; fails if the call bypassed this interceptor. */
    public static AuthenticatedClient currentClient() {
        AuthenticatedClient client = CLIENT.get();
        if (client == null) {
            throw Status.UNAUTHENTICATED.withDescription("call is not authenticated").asRuntimeException();
        }
        return client;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(
            ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        var method = call.getMethodDescriptor();
        if (!FederationGrpc.SERVICE_NAME.equals(method.getServiceName())
                || FederationGrpc.getEnrolMethod().getFullMethodName().equals(method.getFullMethodName())) {
            return next.startCall(call, headers);
        }
        AuthenticatedClient client;
        try {
            client = gateway.authenticate(credential(headers));
        } catch (ClientApiException | StatusRuntimeException e) {
            StatusRuntimeException status = GrpcStatusMapper.toStatus(e, method.getBareMethodName());
            call.close(status.getStatus(), new Metadata());
            return new ServerCall.Listener<>() {};
        } catch (RuntimeException e) {
            StatusRuntimeException status = GrpcStatusMapper.toStatus(e, "authentication");
            call.close(status.getStatus(), new Metadata());
            return new ServerCall.Listener<>() {};
        }
        return Contexts.interceptCall(Context.current().withValue(CLIENT, client), call, headers, next);
    }

    private static String credential(Metadata headers) {
        String value = headers.get(AUTHORIZATION);
        if (value == null || value.isBlank()) {
            throw Status.UNAUTHENTICATED.withDescription("missing 'authorization: Bearer <credential>' header")
                    .asRuntimeException();
        }
        if (value.length() <= BEARER.length() || !value.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            throw Status.UNAUTHENTICATED.withDescription("authorization header is not a Bearer credential")
                    .asRuntimeException();
        }
        String credential = value.substring(BEARER.length()).trim();
        if (credential.isEmpty()) {
            throw Status.UNAUTHENTICATED.withDescription("empty bearer credential").asRuntimeException();
        }
        return credential;
    }
}
