package io.fedlora.db;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ProcessIdentityTest {

    private static final List<String> INITDB = List.of("/pg/bin/initdb", "-D", "/data");

    @Test
    void aNonRootJvmRunsBinariesDirectly() {
        assertThat(new ProcessIdentity(-1, List.of()).wrap(INITDB)).isEqualTo(INITDB);
    }

    @Test
    void aRootJvmRunsThemAsNobodyKeepingTheAllowedCapabilities() {
        assertThat(new ProcessIdentity(65534, List.of("dac_override", "dac_read_search")).wrap(INITDB)).containsExactly(
                "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "--inh-caps=+dac_override,+dac_read_search", "--ambient-caps=+dac_override,+dac_read_search",
                "/pg/bin/initdb", "-D", "/data");
    }

    @Test
    void withoutCapabilitiesInTheBoundingSetNoneAreRequested() {
        assertThat(new ProcessIdentity(65534, List.of()).wrap(INITDB)).containsExactly(
                "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/pg/bin/initdb", "-D", "/data");
    }

    @Test
    void detectionMatchesTheJvmUser() {
        ProcessIdentity detected = ProcessIdentity.detect();
        boolean root = "root".equals(System.getProperty("user.name"));
        assertThat(detected.dropsPrivileges()).isEqualTo(root);
        if (root) {
            assertThat(detected.unprivilegedUid()).isEqualTo(65534);
        }
    }
}
