package app.text;

/** Palindromes for the word-games page. */
public final class Palindromes {
    private Palindromes() {}

    /** Whether {@code text} reads the same backwards, ignoring case and anything that is
     * not a letter or a digit. */
    public static boolean isPalindrome(String text) {
        int i = 0;
        int j = text.length() - 1;
        while (i < j) {
            char a = text.charAt(i);
            char b = text.charAt(j);
            if (!Character.isLetterOrDigit(a)) {
                i++;
            } else if (!Character.isLetterOrDigit(b)) {
                j--;
            } else {
                if (Character.toLowerCase(a) != Character.toLowerCase(b)) {
                    return false;
                }
                i++;
                j--;
            }
        }
        return true;
    }

    /** The longest word of {@code sentence} that is a palindrome, or "" if none is. */
    public static String longestPalindromicWord(String sentence) {
        String best = "";
        for (String word : sentence.split("\\s+")) {
            if (word.length() > best.length() && isPalindrome(word)) {
                best = word;
            }
        }
        return best;
    }
}
