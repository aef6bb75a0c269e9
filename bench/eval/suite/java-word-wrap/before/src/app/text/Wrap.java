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
        for (String word : text.split(" ")) {
            if (current.length() + word.length() > width) {
                lines.add(current.toString().trim());
                current = new StringBuilder();
            }
            current.append(word).append(" ");
        }
        lines.add(current.toString().trim());
        return lines;
    }

    public static String wrapToString(String text, int width) {
        return String.join("\n", wrap(text, width));
    }
}
