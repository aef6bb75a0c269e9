package app.crypto;

/** The Caesar cipher, for the puzzle section of the kids' magazine. */
public final class Caesar {
    private Caesar() {}

    /** Shift every letter {@code shift} places along the alphabet. */
    public static String encode(String text, int shift) {
        int k = Math.floorMod(shift, 26);
        StringBuilder out = new StringBuilder();
        for (char c : text.toCharArray()) {
            if (c >= 'a' && c <= 'z') {
                out.append((char) ('a' + (c - 'a' + k) % 26));
            } else if (c >= 'A' && c <= 'Z') {
                out.append((char) ('A' + (c - 'A' + k) % 26));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    public static String decode(String text, int shift) {
        return encode(text, -shift);
    }
}
