import app.util.IntStack;
import app.util.Rpn;

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
        IntStack s = new IntStack(2);
        for (int i = 0; i < 100; i++) {
            s.push(i);
        }
        eq(100, s.size(), "grows past its capacity");
        eq(99, s.peek(), "peek");
        eq(99, s.pop(), "pop");
        IntStack zero = new IntStack(0);
        zero.push(5);
        eq(5, zero.pop(), "capacity 0 grows too");
        throwsA(IllegalStateException.class, zero::pop, "pop on empty");
        throwsA(IllegalStateException.class, zero::peek, "peek on empty");
        check(zero.isEmpty(), "still empty after the failed pop");
        eq(14, Rpn.eval("3 4 + 2 *"), "rpn");
        eq(15, Rpn.eval("1 2 3 4 5 + + + +"), "rpn deeper than the initial capacity");
        finish();
    }
}
