import app.weather.Forecast;
import app.weather.Temperature;
import java.util.Arrays;
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

    public static void main(String[] args) throws Exception {
        eq(212.0, Temperature.class.getMethod("toFahrenheit").invoke(new Temperature(100)), "toFahrenheit");
        check(Arrays.stream(Temperature.class.getMethods()).noneMatch(m -> m.getName().equals("toF")), "toF is gone");
        List<Temperature> days = List.of(new Temperature(-5), new Temperature(20));
        eq("Boston: 23F* 68F", Forecast.line("Boston", days), "forecast line");
        eq(68.0, Forecast.warmestF(days), "warmest");
        finish();
    }
}
