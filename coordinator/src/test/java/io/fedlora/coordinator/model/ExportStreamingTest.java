package io.fedlora.coordinator.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationSpec;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.coordinator.support.Gpt2SmallShape;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.Primary;
import org.springframework.test.context.TestPropertySource;

/**
 * Exports over real HTTP: a GPT-2-small-size version arrives whole (no request timeout), and an export that fails
 * after the response started is seen by the client as an error, never as a complete 200.
 */
@Import(ExportStreamingTest.BreakableTransfer.class)
// an export written asynchronously (StreamingResponseBody) would be cut after this; the synchronous one never is
@TestPropertySource(properties = "spring.mvc.async.request-timeout=1s")
class ExportStreamingTest extends CoordinatorTestBase {

    /** The real transfer, made to fail half way when a test asks for it. */
    @TestConfiguration
    static class BreakableTransfer {
        static final AtomicBoolean BREAK = new AtomicBoolean();

        @Bean
        @Primary
        ExportTransfer breakableExportTransfer() {
            return new ExportTransfer() {
                @Override
                public void send(Path file, OutputStream out) throws IOException {
                    if (!BREAK.get()) {
                        super.send(file, out);
                        return;
                    }
                    long half = Files.size(file) / 2;
                    try (InputStream in = Files.newInputStream(file)) {
                        out.write(in.readNBytes((int) half));
                        out.flush();
                    }
                    throw new IOException("disk read failed (injected)");
                }
            };
        }
    }

    @LocalServerPort int port;
    @Autowired ModelVersionRepository versions;
    @Autowired ExportSlots slots;
    private final HttpClient http = HttpClient.newHttpClient();

    @AfterEach
    void mend() {
        BreakableTransfer.BREAK.set(false);
    }

    private HttpRequest export(String federationId, long version) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/federations/" + federationId
                + "/models/" + version + "/export")).header("X-API-Key", API_KEY).GET().build();
    }

    @Test
    void aGpt2SmallSizeVersionIsExportedWhole() throws Exception {
        Path model = Gpt2SmallShape.write(Files.createTempDirectory("gpt2-small-shape"), 42);
        FederationSpec spec = new FederationSpec(uniqueName("gpt2-export"), model.toString(), List.of("c_attn"), 8, 16.0,
                false, "fedex", "examples", 1, new FederationSpec.ClientsPerRound(1.0, 2), 60, 2, 0, false, null, 1000.0);
        Federation f = createAndStart(spec);
        assertThat(versions.find(f.id(), 0)).isPresent();

        Path zip = Files.createTempFile("export", ".zip");
        HttpResponse<Path> r = http.send(export(f.id(), 0), HttpResponse.BodyHandlers.ofFile(zip));
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValueAsLong("Content-Length")).hasValue(Files.size(zip));

        Map<String, Long> sizes = new HashMap<>();
        String header = null;
        try (ZipInputStream in = new ZipInputStream(Files.newInputStream(zip))) { // checks every entry's CRC and size
            for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
                if (e.getName().equals("model.safetensors")) {
                    long len = ByteBuffer.wrap(in.readNBytes(8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
                    header = new String(in.readNBytes((int) len), StandardCharsets.UTF_8);
                    sizes.put(e.getName(), 8 + len + in.transferTo(OutputStream.nullOutputStream()));
                } else {
                    sizes.put(e.getName(), in.transferTo(OutputStream.nullOutputStream()));
                }
            }
        }
        assertThat(sizes).containsKeys("adapter/adapter_config.json", "adapter/adapter_model.safetensors",
                "base/model.safetensors", "model.safetensors", "config.json");
        assertThat(sizes.get("base/model.safetensors")).isEqualTo(sizes.get("model.safetensors"));
        assertThat(sizes.get("model.safetensors")).isGreaterThan(4 * Gpt2SmallShape.parameters());
        assertThat(header).contains("\"h.11.mlp.c_proj.weight\"", "\"wte.weight\"", "[50257,768]");
        Files.delete(zip);
    }

    @Test
    void anExportThatFailsAfterTheResponseStartedIsAnErrorForTheClient() throws Exception {
        Federation f = createAndStart(spec(uniqueName("broken-export"), 1, 2, 2, 60, 0, false, "fedex"));
        HttpResponse<byte[]> whole = http.send(export(f.id(), 0), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(whole.statusCode()).isEqualTo(200);
        assertThat(whole.body().length).isPositive();

        BreakableTransfer.BREAK.set(true);
        assertThatThrownBy(() -> http.send(export(f.id(), 0), HttpResponse.BodyHandlers.ofByteArray()))
                .as("half a zip must not arrive as a complete response").isInstanceOf(IOException.class);
    }

    @Test
    void anExportBeyondTheConcurrencyLimitIsRefusedWithRetryAfterAndServedOnceThereIsRoom() throws Exception {
        Federation f = createAndStart(spec(uniqueName("busy-export"), 1, 2, 2, 60, 0, false, "fedex"));
        List<ExportSlots.Slot> taken = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < slots.max(); i++) {
                taken.add(slots.tryAcquire().orElseThrow()); // as if that many exports were being built
            }
            HttpResponse<String> busy = http.send(export(f.id(), 0), HttpResponse.BodyHandlers.ofString());
            assertThat(busy.statusCode()).isEqualTo(503);
            assertThat(busy.headers().firstValue("Retry-After")).hasValue("10");
            assertThat(busy.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).contains("problem+json"));
            assertThat(busy.body()).contains("fedlora.export.max-concurrent");
        } finally {
            taken.forEach(ExportSlots.Slot::close);
        }
        HttpResponse<byte[]> served = http.send(export(f.id(), 0), HttpResponse.BodyHandlers.ofByteArray());
        assertThat(served.statusCode()).isEqualTo(200);
        assertThat(slots.tryAcquire()).as("the served export gave its slot back").isPresent().get()
                .satisfies(ExportSlots.Slot::close);
    }
}
