package io.fedlora.db;

import java.util.Objects;

/**
 * A PostgreSQL role and its password. {@link #toString()} never shows the password, so a record that ends up in a
 * log line or exception message does not leak it.
 */
public record Credentials(String user, String password) {

    public Credentials {
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(password, "password");
    }

    @Override
    public String toString() {
        return "Credentials[user=" + user + ", password=(hidden)]";
    }
}
