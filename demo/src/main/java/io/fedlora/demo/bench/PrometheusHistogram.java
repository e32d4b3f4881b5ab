package io.fedlora.demo.bench;

import java.util.Map;
import java.util.TreeMap;

/**
 * One histogram read from a Prometheus text scrape ({@code NAME_bucket{...,le="x"} n} lines, cumulative), summed over
 * its other labels: how the bench reads the coordinator's own heartbeat timers. Quantiles are interpolated linearly
 * within their bucket, as Prometheus' {@code histogram_quantile} does, so they are as fine as the buckets.
 */
record PrometheusHistogram(TreeMap<Double, Double> cumulative) {

    static PrometheusHistogram parse(String scrape, String name) {
        TreeMap<Double, Double> buckets = new TreeMap<>();
        String prefix = name + "_bucket{";
        for (String line : scrape.split("\n")) {
            if (!line.startsWith(prefix)) {
                continue;
            }
            int le = line.indexOf("le=\"");
            int end = line.indexOf('"', le + 4);
            if (le < 0 || end < 0) {
                continue;
            }
            String bound = line.substring(le + 4, end);
            double upper = bound.equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(bound);
            double n = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            buckets.merge(upper, n, Double::sum);
        }
        return new PrometheusHistogram(buckets);
    }

    long count() {
        return cumulative.isEmpty() ? 0 : Math.round(cumulative.lastEntry().getValue());
    }

    /** The q-quantile in the histogram's unit, or NaN without observations; the last finite bound if beyond it. */
    double quantile(double q) {
        double total = count();
        if (total == 0) {
            return Double.NaN;
        }
        double rank = q * total;
        double lower = 0;
        double below = 0;
        for (Map.Entry<Double, Double> b : cumulative.entrySet()) {
            if (b.getValue() >= rank) {
                if (b.getKey().isInfinite()) {
                    return lower;
                }
                double inBucket = b.getValue() - below;
                return inBucket <= 0 ? b.getKey() : lower + (b.getKey() - lower) * (rank - below) / inBucket;
            }
            lower = b.getKey();
            below = b.getValue();
        }
        return lower;
    }

    /** Observations at most {@code bound} (which must be one of the bucket bounds). */
    long atMost(double bound) {
        Double n = cumulative.get(bound);
        return n == null ? -1 : Math.round(n);
    }
}
