package app.tasks;

/** How urgent a task is, least urgent first. */
public enum Priority {
    LOW,
    HIGH;

    /** A priority from the command line: "low", "HIGH"... */
    public static Priority parse(String text) {
        return Priority.valueOf(text.trim().toUpperCase());
    }
}
