package io.fedlora.aggregation.hf;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The README's "Loading an export with transformers + PEFT" python block is the code {@code load_export.py} runs
 * (between its "README snippet" and "end of snippet" lines), so what {@link HfExportLoadingTest} checks against real
 * transformers and PEFT is what the README tells users to type.
 */
class ReadmeHfSnippetTest {

    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    static final Path SCRIPT = ROOT.resolve("scripts/hf-fixtures/load_export.py");
    private static final String SECTION = "### Loading an export with transformers + PEFT";

    @Test
    void readmeBlockIsTheCodeLoadExportRuns() throws IOException {
        assertThat(readmeBlock()).isEqualTo(scriptSnippet()).isNotEmpty();
    }

    @Test
    void theSnippetLoadsTheMergedTopLevelAndTheAdapterOnBase() throws IOException {
        // guards the extraction too: an empty or wrong region would make the equality above vacuous
        assertThat(String.join("\n", scriptSnippet()))
                .contains("from_pretrained(export)")
                .contains("from_pretrained(f\"{export}/base\", config=AutoConfig.from_pretrained(export))")
                .contains("PeftModel.from_pretrained(base, f\"{export}/adapter\"");
    }

    /** The first {@code ```python} block after the section heading. */
    static List<String> readmeBlock() throws IOException {
        List<String> lines = Files.readAllLines(ROOT.resolve("README.md"));
        int i = lines.indexOf(SECTION);
        assertThat(i).as("README section '%s'", SECTION).isNotNegative();
        while (!lines.get(i).equals("```python")) {
            i++;
            assertThat(lines.get(i)).as("a python block before the next section").doesNotStartWith("#");
        }
        int end = i + 1;
        while (!lines.get(end).equals("```")) {
            end++;
        }
        return lines.subList(i + 1, end);
    }

    /** The lines of {@code load_export.py} between its snippet markers. */
    static List<String> scriptSnippet() throws IOException {
        List<String> lines = Files.readAllLines(SCRIPT);
        int start = -1;
        int end = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith("# README snippet")) {
                start = i + 1;
            } else if (lines.get(i).equals("# end of snippet")) {
                end = i;
            }
        }
        assertThat(start).as("'# README snippet' marker in %s", SCRIPT).isPositive();
        assertThat(end).as("'# end of snippet' marker in %s", SCRIPT).isGreaterThan(start);
        return lines.subList(start, end);
    }
}
