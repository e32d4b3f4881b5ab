package io.fedlora.coordinator.config;

import com.zaxxer.hikari.HikariDataSource;
import io.fedlora.db.EmbeddedPostgres;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;

/**
 * With no JDBC URL configured, starts a real PostgreSQL under {@code <data-dir>/postgres} so the
 * coordinator runs on a bare machine. Flyway's auto-configuration migrates this DataSource, connected like
 * the coordinator as the server's password-protected, non-superuser application role.
 */
@Configuration(proxyBeanMethods = false)
@Conditional(NoDataSourceUrlCondition.class)
class EmbeddedDatabaseConfiguration {

    static final String DATABASE = "fedlora";
    private static final Logger log = LoggerFactory.getLogger(EmbeddedDatabaseConfiguration.class);

    @Bean(destroyMethod = "close")
    EmbeddedPostgres embeddedPostgres(FedloraProperties properties) {
        EmbeddedPostgres pg = EmbeddedPostgres.start(properties.dataDir().resolve("postgres"), 0);
        pg.createDatabaseIfMissing(DATABASE);
        log.info("embedded PostgreSQL on 127.0.0.1:{} (data {})", pg.port(), pg.dataDir());
        return pg;
    }

    @Bean(destroyMethod = "close")
    DataSource dataSource(EmbeddedPostgres pg) {
        HikariDataSource ds = new HikariDataSource();
        ds.setJdbcUrl(pg.jdbcUrl(DATABASE));
        ds.setUsername(pg.user());
        ds.setPassword(pg.password());
        ds.setMaximumPoolSize(10);
        ds.setPoolName("fedlora-embedded");
        return ds;
    }
}
