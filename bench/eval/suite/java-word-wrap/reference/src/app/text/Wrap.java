package app.text;

import java.util.ArrayList;
import java.util.List;

/** Word wrapping for the plain-text e-mails. */
public final class Wrap {
    private Wrap() {}

    /** {@code text} as lines of at most {@code width} characters, broken between words. */
    public static List<String> wrap(String text, int width) {
        List<String> lines = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String word : text.trim().split("\\s+")) {
            if (word.isEmpty()) {
                continue;
            }
            if (current.length() > 0 && current.length() + 1 + word.length() > width) {
                lines.add(current.toString());
                current = new StringBuilder();
            }
            if (current.length() > 0) {
                current.append(' ');
            }
            current.append(word);
        }
        if (current.length() > 0) {
            lines.add(current.toString());
        }
        return lines;
    }

    public static String wrapToString(String text, int width) {
        return String.join("\n", wrap(text, width));
    }
}
