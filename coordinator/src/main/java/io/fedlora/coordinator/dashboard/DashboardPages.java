package io.fedlora.coordinator.dashboard;

import org.springframework.context.annotation.Configuration;
import org.springframework.web.servlet.config.annotation.ViewControllerRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/**
 * Serves the dashboard (static files under {@code classpath:/static/dashboard/}) at {@code /dashboard/}. The page
 * and its scripts are public; every piece of data it shows comes from {@code /api/v1} with the admin key the user
 * enters, so the coordinator needs no second server and no second credential.
 */
@Configuration
public class DashboardPages implements WebMvcConfigurer {

    @Override
    public void addViewControllers(ViewControllerRegistry registry) {
        registry.addRedirectViewController("/dashboard", "/dashboard/");
        registry.addViewController("/dashboard/").setViewName("forward:/dashboard/index.html");
    }
}
