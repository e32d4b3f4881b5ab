package io.fedlora.db.testing;

/** A running PostgreSQL that tests may create databases on; one implementation per way of getting one. */
interface PostgresServer {

    /** JDBC URL of {@code database} on this server. */
    String jdbcUrl(String database);

    /** Creates an empty database that {@link #username()} owns. */
    void createDatabase(String name);

    /** The role tests and the coordinators they start connect as. */
    String username();

    String password();

    /** "testcontainers" or "embedded". */
    String kind();
}
