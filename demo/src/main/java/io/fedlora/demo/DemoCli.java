package io.fedlora.demo;

import java.io.PrintStream;
import java.nio.file.Path;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.fedlora.cli.Cli;

import io.fedlora.demo.cli.DemoArgs;
import io.fedlora.demo.cli.DemoOptions;
import io.fedlora.demo.process.FedloraHome;
import io.fedlora.demo.report.CompareTable;
import io.fedlora.demo.report.JsonReport;
import io.fedlora.demo.report.ResultsTable;
import io.fedlora.demo.report.RunResult;
import io.fedlora.demo.run.DemoInterrupted;
import io.fedlora.demo.run.DemoRunner;

/**
 * {@code ./fedlora demo}: a whole federation on this machine, as separate processes on loopback,
 * ending with a results table (or one JSON line with {@code --json}). The command line and its exit codes are
 * {@link DemoArgs}'.
 */
public final class DemoCli {

    private DemoCli() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        return Cli.execute(new DemoArgs(options -> run(options, out, err)), args, out, err);
    }

    private static int run(DemoOptions options, PrintStream out, PrintStream err) {
        ObjectMapper mapper = new ObjectMapper();
        // with --json, stdout carries only the JSON line (| tail -1 | jq works); progress and tables go to stderr
        PrintStream human = options.json() ? err : out;
        try {
            Path home = FedloraHome.locate();
            DemoRunner.Outcome outcome = new DemoRunner(home, human, mapper).run(options);
            human.println();
            for (RunResult run : outcome.runs()) {
                human.println("results (" + run.strategy() + ", federation " + run.federationId() + "):");
                human.print(ResultsTable.render(run));
                if (!outcome.workDirRemoved()) {
                    run.exportDir().ifPresent(dir -> human.println("exported model: " + dir + " (the merged model: plain"
                            + " from_pretrained; adapter/ + base/: the PEFT adapter and the residual-folded base it belongs on)"));
                }
                human.println();
            }
            if (options.compare()) {
                human.println("fedex vs fedit on the same seed and data:");
                human.print(CompareTable.render(outcome.runs()));
                human.println();
            }
            human.println(outcome.cleanup().line());
            if (options.json()) {
                out.println(new JsonReport(mapper).line(options, outcome.runs(), outcome.workDir().toString(),
                        !outcome.workDirRemoved()));
            }
            out.flush();
            return 0;
        } catch (DemoInterrupted e) {
            // the shutdown hook says what was stopped and where the work directory is; the JVM exits 130/143
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("fedlora demo: interrupted");
            return 1;
        } catch (Exception e) {
            out.flush();
            err.println("fedlora demo failed: " + e.getMessage());
            return 1;
        }
    }
}
