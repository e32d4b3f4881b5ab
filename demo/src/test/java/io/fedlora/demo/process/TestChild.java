package io.fedlora.demo.process;

/**
 * A tiny program the launcher tests start as a real child JVM: prints its arguments and an
 * environment variable, then exits with the code given or sleeps until killed.
 */
public final class TestChild {

    private TestChild() {
    }

    public static void main(String[] args) throws InterruptedException {
        System.out.println("args=" + String.join(",", args));
        System.out.println("env=" + System.getenv("FEDLORA_TEST_VAR"));
        System.err.println("to stderr");
        if (args.length > 0 && args[0].equals("sleep")) {
            Thread.sleep(600_000);
        }
        System.exit(args.length > 0 ? Integer.parseInt(args[0]) : 0);
    }
}
