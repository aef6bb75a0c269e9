import app.crypto.Caesar;

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
        eq("def", Caesar.encode("abc", 3), "lower case");
        eq("abc", Caesar.encode("xyz", 3), "wraps around");
        eq("Khoor, Zruog!", Caesar.encode("Hello, World!", 3), "case kept, punctuation untouched");
        eq("xyz", Caesar.encode("abc", -3), "negative shift");
        eq("bcd", Caesar.encode("abc", 27), "shift over 26");
        eq("abc", Caesar.encode("abc", -52), "large negative shift");
        eq("Hello, World! 123", Caesar.decode(Caesar.encode("Hello, World! 123", 11), 11), "round trip");
        eq("é ß", Caesar.encode("é ß", 5), "non-ASCII untouched");
        finish();
    }
}
