import app.tasks.Priority;
import app.tasks.Scheduler;
import app.tasks.Scheduler.Task;
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

    public static void main(String[] args) {
        eq("[LOW, MEDIUM, HIGH]", Arrays.toString(Priority.values()), "order of priorities");
        eq(Priority.valueOf("MEDIUM"), Priority.parse(" medium "), "parse");
        eq(5, Scheduler.weight(Priority.valueOf("MEDIUM")), "medium weight");
        eq(1, Scheduler.weight(Priority.LOW), "low weight");
        eq(10, Scheduler.weight(Priority.HIGH), "high weight");
        List<Task> tasks = List.of(
                new Task("a", Priority.LOW, 9),
                new Task("b", Priority.valueOf("MEDIUM"), 1),
                new Task("c", Priority.HIGH, 0),
                new Task("d", Priority.valueOf("MEDIUM"), 4));
        eq(List.of("c", "d", "b", "a"), Scheduler.order(tasks).stream().map(Task::title).toList(), "order");
        finish();
    }
}
