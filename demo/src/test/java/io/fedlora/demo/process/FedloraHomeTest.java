package io.fedlora.demo.process;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FedloraHomeTest {

    @TempDir
    Path dir;

    @Test
    void findsTheCheckoutFromASubdirectory() throws Exception {
        Files.writeString(dir.resolve("pom.xml"), "<project/>");
        Files.writeString(dir.resolve("fedlora"), "#!/bin/sh");
        Path deep = Files.createDirectories(dir.resolve("demo/target/x"));
        assertThat(FedloraHome.search(deep)).contains(dir.toAbsolutePath().normalize());
    }

    @Test
    void acceptsTheModuleLayoutWithoutTheScript() throws Exception {
        Files.writeString(dir.resolve("pom.xml"), "<project/>");
        Files.createDirectories(dir.resolve("coordinator"));
        Files.createDirectories(dir.resolve("client-agent"));
        Files.writeString(dir.resolve("coordinator/pom.xml"), "<project/>");
        assertThat(FedloraHome.isHome(dir)).isFalse();
        Files.writeString(dir.resolve("client-agent/pom.xml"), "<project/>");
        assertThat(FedloraHome.isHome(dir)).isTrue();
    }

    @Test
    void theRealCheckoutIsFoundFromThisModule() {
        assertThat(FedloraHome.search(Path.of("").toAbsolutePath()))
                .hasValueSatisfying(home -> assertThat(home.resolve("demo/pom.xml")).exists());
    }

    @Test
    void moduleClasspathNeedsABuiltModule() throws Exception {
        Files.createDirectories(dir.resolve("coordinator/target/classes"));
        assertThatThrownBy(() -> ModuleClasspath.of(dir, "coordinator"))
                .hasMessageContaining("module 'coordinator' is not built").hasMessageContaining("classpath.txt");
        Files.writeString(dir.resolve("coordinator/target/classpath.txt"), "/m2/a.jar:/m2/b.jar\n");
        assertThat(ModuleClasspath.of(dir, "coordinator"))
                .isEqualTo(dir.resolve("coordinator/target/classes") + java.io.File.pathSeparator + "/m2/a.jar:/m2/b.jar");
    }
}
