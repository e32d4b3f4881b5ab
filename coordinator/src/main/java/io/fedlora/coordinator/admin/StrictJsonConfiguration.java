package io.fedlora.coordinator.admin;

import com.fasterxml.jackson.databind.DeserializationFeature;
import java.util.List;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.converter.HttpMessageConverter;
import org.springframework.http.converter.json.MappingJackson2HttpMessageConverter;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/**
 * Request bodies of the admin API are read strictly: a field the endpoint does not know ({@code {"round":1}} on
 * federation create, a misspelt {@code "rnak"}) or trailing text after the JSON value is a 400 naming it, rather
 * than silently ignored so that the admin believes a setting took effect. Only the HTTP converter's mapper is
 * strict; the application's own mapper (stored JSON columns) stays as Spring Boot configures it.
 */
@Configuration
public class StrictJsonConfiguration implements WebMvcConfigurer {

    @Override
    public void extendMessageConverters(List<HttpMessageConverter<?>> converters) {
        for (HttpMessageConverter<?> c : converters) {
            if (c instanceof MappingJackson2HttpMessageConverter json) {
                json.setObjectMapper(json.getObjectMapper().copy()
                        .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS));
            }
        }
    }
}
