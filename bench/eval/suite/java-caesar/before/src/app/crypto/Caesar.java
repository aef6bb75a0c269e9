package app.crypto;

/** The Caesar cipher, for the puzzle section of the kids' magazine. */
public final class Caesar {
    private Caesar() {}

    /** Shift every letter {@code shift} places along the alphabet. */
    public static String encode(String text, int shift) {
        StringBuilder out = new StringBuilder();
        for (char c : text.toCharArray()) {
            out.append((char) ('a' + (c - 'a' + shift) % 26));
        }
        return out.toString();
    }

    public static String decode(String text, int shift) {
        return encode(text, -shift);
    }
}
