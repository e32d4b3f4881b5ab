package io.fedlora.coordinator.grpc;

import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Configuration;

/** Binds {@link GrpcTransportProperties}; the transport's beans are components of this package. */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(GrpcTransportProperties.class)
public class GrpcTransportConfiguration {}
