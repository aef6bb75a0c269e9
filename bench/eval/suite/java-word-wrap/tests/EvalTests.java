import app.text.Wrap;
import java.util.List;

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
        eq(List.of("the quick", "brown fox"), Wrap.wrap("the quick brown fox", 9), "exact fit");
        eq(List.of("the", "quick", "brown", "fox"), Wrap.wrap("the quick brown fox", 8), "width 8");
        eq(List.of("aaaa bbbb", "cc"), Wrap.wrap("aaaa bbbb cc", 10), "fits with one to spare");
        eq(List.of("a", "extraordinary", "b"), Wrap.wrap("a extraordinary b", 5), "long word on its own line");
        eq(List.of("extraordinary", "b"), Wrap.wrap("extraordinary b", 5), "no empty first line");
        eq(List.of("one two", "three"), Wrap.wrap("  one   two\nthree  ", 7), "any whitespace");
        eq(List.of(), Wrap.wrap("", 10), "empty text");
        eq(List.of(), Wrap.wrap("   ", 10), "blank text");
        for (String line : Wrap.wrap("lorem ipsum dolor sit amet consectetur adipiscing elit sed do", 12)) {
            check(line.length() <= 12, "too long: " + line);
        }
        eq("ab cd\nef", Wrap.wrapToString("ab cd ef", 5), "wrapToString");
        finish();
    }
}
