import app.bank.Ledger;

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

    static Ledger ledger() {
        Ledger l = new Ledger();
        l.open("ann", 1000);
        l.open("bob", 50);
        return l;
    }

    public static void main(String[] args) {
        Ledger l = ledger();
        l.transfer("ann", "bob", 300);
        eq(700L, l.balance("ann"), "ann after transfer");
        eq(350L, l.balance("bob"), "bob after transfer");

        Ledger a = ledger();
        throwsA(IllegalArgumentException.class, () -> a.transfer("bob", "ann", 51), "insufficient funds");
        throwsA(IllegalArgumentException.class, () -> a.transfer("ann", "bob", 0), "zero");
        throwsA(IllegalArgumentException.class, () -> a.transfer("ann", "bob", -5), "negative");
        throwsA(IllegalArgumentException.class, () -> a.transfer("ann", "zed", 5), "unknown target");
        throwsA(IllegalArgumentException.class, () -> a.transfer("zed", "ann", 5), "unknown source");
        throwsA(IllegalArgumentException.class, () -> a.transfer("ann", "ann", 5), "same account");
        eq(1000L, a.balance("ann"), "ann untouched by failures");
        eq(50L, a.balance("bob"), "bob untouched by failures");
        finish();
    }
}
