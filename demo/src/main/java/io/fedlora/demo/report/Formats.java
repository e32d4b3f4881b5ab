package io.fedlora.demo.report;

import java.util.Locale;

/** Number formatting shared by the progress lines and the tables; {@code null} prints as "-". */
public final class Formats {

    private Formats() {
    }

    /** Relative errors: scientific notation, e.g. {@code 1.23e-07}. */
    public static String sci(Double value) {
        return value == null ? "-" : String.format(Locale.ROOT, "%.2e", value);
    }

    /** Losses: four decimals. */
    public static String loss(Double value) {
        return value == null ? "-" : String.format(Locale.ROOT, "%.4f", value);
    }

    /** Accuracies: shown as a percentage with one decimal. */
    public static String percent(Double value) {
        return value == null ? "-" : String.format(Locale.ROOT, "%.1f%%", value * 100);
    }

    /** Durations in milliseconds. */
    public static String millis(Double value) {
        return value == null ? "-" : String.format(Locale.ROOT, "%.0f ms", value);
    }

    /** Byte counts in binary units. */
    public static String bytes(Double value) {
        if (value == null) {
            return "-";
        }
        double v = value;
        String[] units = {"B", "KiB", "MiB", "GiB"};
        int unit = 0;
        while (v >= 1024 && unit < units.length - 1) {
            v /= 1024;
            unit++;
        }
        return unit == 0 ? String.format(Locale.ROOT, "%.0f B", v) : String.format(Locale.ROOT, "%.1f %s", v, units[unit]);
    }
}
