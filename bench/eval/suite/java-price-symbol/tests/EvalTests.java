import app.shop.PriceFormatter;
import app.shop.Receipt;

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
        eq("€12.50", PriceFormatter.format(1250, "€"), "euro");
        eq("-£0.07", PriceFormatter.format(-7, "£"), "negative pound");
        eq("$3.00", PriceFormatter.format(300, "$"), "dollar");
        Receipt r = new Receipt("€");
        r.add("tea", 250);
        r.add("scone", 325);
        eq("tea €2.50\nscone €3.25\nTOTAL €5.75", r.render(), "receipt in its currency");
        finish();
    }
}
