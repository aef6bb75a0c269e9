package app.tasks;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Orders the to-do list: the highest weight first, then the oldest. */
public final class Scheduler {
    private Scheduler() {}

    public record Task(String title, Priority priority, int ageDays) {}

    /** How many points a priority is worth. */
    public static int weight(Priority priority) {
        switch (priority) {
            case LOW:
                return 1;
            case HIGH:
                return 10;
            default:
                throw new IllegalArgumentException("no weight for " + priority);
        }
    }

    public static List<Task> order(List<Task> tasks) {
        List<Task> sorted = new ArrayList<>(tasks);
        sorted.sort(Comparator.comparingInt((Task t) -> weight(t.priority())).reversed()
                .thenComparing(Comparator.comparingInt(Task::ageDays).reversed()));
        return sorted;
    }
}
