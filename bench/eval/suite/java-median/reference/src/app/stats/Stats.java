package app.stats;

import java.util.Arrays;

/** Summary statistics of response times (milliseconds). */
public final class Stats {
    private Stats() {}

    public static double mean(int[] values) {
        long sum = 0;
        for (int v : values) {
            sum += v;
        }
        return (double) sum / values.length;
    }

    /** The middle value; for an even count, the mean of the two middle values. */
    public static double median(int[] values) {
        if (values.length == 0) {
            throw new IllegalArgumentException("no values");
        }
        int[] sorted = Arrays.copyOf(values, values.length);
        Arrays.sort(sorted);
        int mid = sorted.length / 2;
        if (sorted.length % 2 == 0) {
            return ((long) sorted[mid - 1] + sorted[mid]) / 2.0;
        }
        return sorted[mid];
    }
}
