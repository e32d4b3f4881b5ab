package io.fedlora.db.testing;

/** A running PostgreSQL that tests may create databases on; one implementation per way of getting one. */
interface PostgresServer {

    /** JDBC URL of {@code database} on this server. */
    String jdbcUrl(String database);

    String username();

    String password();

    /** "testcontainers" or "embedded". */
    String kind();
}
