package io.fedlora.coordinator.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationStatus;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.coordinator.support.SimulatedClient;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The dashboard in a real headless Chromium (Debian's chromium + chromium-driver) against this coordinator on
 * loopback: without a key it shows no data and says a key is required, a wrong key is reported as rejected, and
 * with the key it charts every round of a federation that ran and lists its clients and model versions.
 * Without the browser binaries the test fails on CI ({@code CI=true}) and is skipped, saying why, elsewhere.
 */
class DashboardBrowserTest extends CoordinatorTestBase {

    static final String CHROMIUM = System.getenv().getOrDefault("FEDLORA_CHROMIUM", "/usr/bin/chromium");
    static final String CHROMEDRIVER = System.getenv().getOrDefault("FEDLORA_CHROMEDRIVER", "/usr/bin/chromedriver");

    private static WebDriver browser;
    private static Path profile;
    /** Why the browser test cannot run here (binaries missing outside CI); null when it can. */
    private static String skipReason;

    @LocalServerPort int port;

    @BeforeAll
    static void startBrowser() throws Exception {
        boolean present = Files.isExecutable(Path.of(CHROMIUM)) && Files.isExecutable(Path.of(CHROMEDRIVER));
        String missing = "the dashboard browser test needs Chromium and ChromeDriver at " + CHROMIUM + " and " + CHROMEDRIVER
                + " (Debian: apt-get install -y chromium chromium-driver; or set FEDLORA_CHROMIUM / FEDLORA_CHROMEDRIVER)";
        if (!present) {
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                throw new AssertionError(missing + "; .ci/run installs them before ./mvnw verify");
            }
            skipReason = "skipped: " + missing;
            System.err.println("DashboardBrowserTest " + skipReason);
            return;
        }
        profile = Files.createTempDirectory("fedlora-chromium-profile");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM);
        // without these Chromium tries the network (updates, sync, QUIC) and hangs on a closed one
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1800", "--user-data-dir=" + profile);
        // the export button saves a blob: downloads land in the temporary profile, never in a home directory
        options.setExperimentalOption("prefs", java.util.Map.of("download.default_directory", profile.toString(),
                "download.prompt_for_download", false));
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(new File(CHROMEDRIVER))
                .usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
    }

    @AfterAll
    static void stopBrowser() throws Exception {
        if (browser != null) {
            browser.quit();
        }
        if (profile != null) {
            try (var files = Files.walk(profile)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** Two clients through two evaluated rounds: round 0 evaluates the base, rounds 1 and 2 train and evaluate. */
    private Federation runTwoRounds() {
        Federation f = createAndStart(spec(uniqueName("dashboard"), 2, 2, 2, 30, 0, true, "fedex"));
        List<SimulatedClient> clients = enrol(f, 10, 30);
        for (int round = 0; round <= 2; round++) {
            for (SimulatedClient c : clients) {
                ClientTask t = c.awaitTask(ClientTask.Kind.EVALUATE, Duration.ofSeconds(20));
                c.evaluate(t, 3.0 - round * 0.5 + c.numExamples() / 100.0, 0.2 + 0.2 * round);
            }
            if (round < 2) {
                for (SimulatedClient c : clients) {
                    c.trainOnce(Duration.ofSeconds(20));
                }
            }
        }
        awaitStatus(f.id(), FederationStatus.COMPLETED, Duration.ofSeconds(30));
        return federations.get(f.id());
    }

    private WebDriverWait waiting() {
        return (WebDriverWait) new WebDriverWait(browser, Duration.ofSeconds(20))
                .ignoring(StaleElementReferenceException.class);
    }

    private String state() {
        return browser.findElement(By.id("auth-state")).getText();
    }

    private void enterKey(String key) {
        WebElement input = browser.findElement(By.id("api-key"));
        input.clear();
        input.sendKeys(key);
        browser.findElement(By.id("key-use")).click();
    }

    /** The rounds of a chart's plotted points, read in one script (the page re-renders as it polls). */
    @SuppressWarnings("unchecked")
    private List<String> rounds(String chart, String series) {
        return (List<String>) js("return Array.from(document.querySelectorAll(arguments[0])).map(c => c.dataset.round)",
                "#" + chart + " circle.point[data-series='" + series + "']");
    }

    /** The texts of a table's body rows, read in one script. */
    @SuppressWarnings("unchecked")
    private List<String> rows(String table) {
        return (List<String>) js("return Array.from(document.querySelectorAll(arguments[0])).map(r => r.innerText)",
                "#" + table + " tbody tr");
    }

    private Object js(String script, Object... args) {
        return ((JavascriptExecutor) browser).executeScript(script, args);
    }

    @Test
    void theKeyIsRequiredAndTheChartsShowEveryRoundOfAFederationThatRan() throws Exception {
        Assumptions.assumeTrue(skipReason == null, skipReason);
        Federation f = runTwoRounds();
        await("the final evaluation", Duration.ofSeconds(20), () -> jdbc.sql(
                "SELECT count(*) FROM round_metrics m JOIN rounds r ON r.id = m.round_id WHERE r.federation_id = :f::uuid"
                        + " AND m.eval_loss IS NOT NULL").param("f", f.id()).query(Long.class).single() == 3);

        browser.manage().deleteAllCookies();
        browser.get("http://127.0.0.1:" + port + "/dashboard/");
        js("sessionStorage.clear()");
        browser.navigate().refresh();
        waiting().until(d -> state().contains("API key required"));
        assertThat(browser.findElement(By.id("data")).isDisplayed()).as("no data without a key").isFalse();
        assertThat(rows("federations")).isEmpty();
        assertThat(browser.getPageSource()).doesNotContain(f.id());

        enterKey("not-the-key");
        waiting().until(d -> state().contains("Key rejected"));
        assertThat(browser.findElement(By.id("data")).isDisplayed()).isFalse();
        assertThat(rows("federations")).isEmpty();

        enterKey(API_KEY);
        waiting().until(d -> state().contains("Connected"));
        assertThat(browser.getCurrentUrl()).doesNotContain(API_KEY);
        waiting().until(d -> {
            d.findElement(By.cssSelector("#federations tbody tr[data-id='" + f.id() + "']")).click();
            return true;
        });
        waiting().until(d -> d.findElement(By.id("fed-name")).getText().equals(f.name())
                && rounds("chart-errors", "fedavg_deviation_rel").size() == 2);

        assertThat(rounds("chart-eval-loss", "eval_loss")).as("one point per evaluated round (0 = base)")
                .containsExactlyInAnyOrder("0", "1", "2");
        assertThat(rounds("chart-eval-accuracy", "eval_accuracy")).containsExactlyInAnyOrder("0", "1", "2");
        assertThat(rounds("chart-errors", "exactness_rel_error")).as("one point per aggregated round")
                .containsExactlyInAnyOrder("1", "2");
        assertThat(rounds("chart-errors", "fedavg_deviation_rel")).containsExactlyInAnyOrder("1", "2");
        assertThat((Long) js("return document.querySelectorAll('#chart-errors circle.point').length")).isEqualTo(4);

        List<String> clientRows = rows("clients");
        assertThat(clientRows).hasSize(2);
        assertThat(clientRows).allSatisfy(r -> assertThat(r).contains("client-").contains("ago"));
        assertThat(rows("rounds")).hasSize(3);
        assertThat(rows("models")).as("versions 0, 1, 2").hasSize(3);
        assertThat(browser.findElement(By.id("fed-status")).getText()).isEqualTo("COMPLETED");

        // the export needs the key: the page fetches it with the header and saves the blob
        js("document.querySelectorAll('#models button.export')[1].click()");
        waiting().until(d -> d.findElement(By.id("export-state")).getText().contains("version 1 exported"));
        assertThat(browser.findElement(By.id("export-state")).getText()).containsPattern("\\((\\d+(\\.\\d)? (B|KiB|MiB))\\)");

        Path shot = Path.of("target", "dashboard-screenshot.png");
        Files.createDirectories(shot.getParent());
        Files.write(shot, ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));

        browser.findElement(By.id("key-forget")).click();
        waiting().until(d -> state().contains("API key required"));
        assertThat(browser.findElement(By.id("data")).isDisplayed()).isFalse();
    }
}
