package io.fedlora.db.testing;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import org.testcontainers.containers.PostgreSQLContainer;
import org.testcontainers.utility.DockerImageName;

/** PostgreSQL 17 in a Testcontainers-managed container; Testcontainers' reaper removes it when the JVM ends. */
final class ContainerServer implements PostgresServer {

    static final String IMAGE = "postgres:17-alpine";

    private final PostgreSQLContainer<?> container;

    private ContainerServer(PostgreSQLContainer<?> container) {
        this.container = container;
    }

    static ContainerServer start() {
        PostgreSQLContainer<?> container = new PostgreSQLContainer<>(DockerImageName.parse(IMAGE)
                .asCompatibleSubstituteFor("postgres"));
        container.start();
        return new ContainerServer(container);
    }

    @Override
    public String jdbcUrl(String database) {
        return "jdbc:postgresql://" + container.getHost() + ":" + container.getMappedPort(PostgreSQLContainer.POSTGRESQL_PORT)
                + "/" + database;
    }

    @Override
    public void createDatabase(String name) {
        try (Connection connection = DriverManager.getConnection(jdbcUrl("postgres"), username(), password());
             Statement statement = connection.createStatement()) {
            statement.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot create test database " + name + " on " + jdbcUrl("postgres")
                    + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String username() {
        return container.getUsername();
    }

    @Override
    public String password() {
        return container.getPassword();
    }

    @Override
    public String kind() {
        return "testcontainers";
    }
}
