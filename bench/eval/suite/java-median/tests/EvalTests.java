import app.stats.Stats;
import java.util.Arrays;

public class EvalTests {
    static int failures = 0;

    static void check(boolean ok, String what) {
        if (!ok) {
            failures++;
            System.out.println("FAIL " + what);
        }
    }

    static void eq(Object expected, Object actual, String what) {
        check(java.util.Objects.equals(expected, actual),
                what + ": expected <" + expected + "> but got <" + actual + ">");
    }

    static void throwsA(Class<? extends Throwable> type, Runnable body, String what) {
        try {
            body.run();
            check(false, what + ": nothing thrown, expected " + type.getSimpleName());
        } catch (Throwable t) {
            check(type.isInstance(t), what + ": threw " + t + ", expected " + type.getSimpleName());
        }
    }

    static void finish() {
        if (failures > 0) {
            System.out.println(failures + " check(s) failed");
            System.exit(1);
        }
        System.out.println("all checks passed");
    }

    public static void main(String[] args) {
        eq(3.0, Stats.median(new int[] {1, 3, 5}), "sorted odd");
        eq(3.0, Stats.median(new int[] {5, 1, 3}), "unsorted odd");
        eq(2.5, Stats.median(new int[] {4, 1, 3, 2}), "unsorted even, not rounded");
        eq(7.0, Stats.median(new int[] {7}), "one value");
        eq(2147483646.5, Stats.median(new int[] {Integer.MAX_VALUE, Integer.MAX_VALUE - 1}), "no overflow");
        int[] input = {9, 2, 7};
        Stats.median(input);
        eq("[9, 2, 7]", Arrays.toString(input), "input not modified");
        throwsA(IllegalArgumentException.class, () -> Stats.median(new int[0]), "empty");
        eq(2.0, Stats.mean(new int[] {1, 3}), "mean unchanged");
        finish();
    }
}
