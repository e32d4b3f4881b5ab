package io.fedlora.db;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class ProcessIdentityTest {

    private static final List<String> INITDB = List.of("/pg/bin/initdb", "-D", "/data");

    @Test
    void aNonRootJvmRunsBinariesDirectly() {
        assertThat(new ProcessIdentity(-1, false).wrap(INITDB)).isEqualTo(INITDB);
    }

    @Test
    void aRootJvmRunsThemAsNobodyWithEveryCapabilityDropped() {
        assertThat(new ProcessIdentity(65534, true).wrap(INITDB)).containsExactly(
                "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--no-new-privs",
                "--bounding-set=-all", "/pg/bin/initdb", "-D", "/data");
    }

    @Test
    void withoutCapSetpcapTheBoundingSetIsLeftButNoNewPrivsStillHolds() {
        assertThat(new ProcessIdentity(65534, false).wrap(INITDB)).containsExactly(
                "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--no-new-privs",
                "/pg/bin/initdb", "-D", "/data");
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
