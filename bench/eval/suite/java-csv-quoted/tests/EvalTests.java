import app.csv.CsvLine;
import app.csv.Customers;
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
        eq(List.of("a", "b", "c"), CsvLine.split("a,b,c"), "plain");
        eq(List.of("a", "", "b"), CsvLine.split("a,,b"), "empty middle field");
        eq(List.of("a", "b", ""), CsvLine.split("a,b,"), "empty last field");
        eq(List.of(""), CsvLine.split(""), "empty line is one empty field");
        eq(List.of("Smith, John", "Oslo"), CsvLine.split("\"Smith, John\",Oslo"), "quoted comma");
        eq(List.of("say \"hi\"", "x"), CsvLine.split("\"say \"\"hi\"\"\",x"), "doubled quotes");
        eq(List.of("", "b"), CsvLine.split("\"\",b"), "empty quoted field");
        eq(new Customers("Doe, Jane", "Rome", "jd@x.it"), Customers.parse("\"Doe, Jane\",Rome,jd@x.it"), "customer");
        finish();
    }
}
