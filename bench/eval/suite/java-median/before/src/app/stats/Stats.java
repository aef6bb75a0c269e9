package app.stats;

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
        int mid = values.length / 2;
        if (values.length % 2 == 0) {
            return (values[mid - 1] + values[mid]) / 2;
        }
        return values[mid];
    }
}
