import app.text.Palindromes;

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
        check(Palindromes.isPalindrome("racecar"), "racecar");
        check(!Palindromes.isPalindrome("racecars"), "racecars");
        check(Palindromes.isPalindrome("Racecar"), "case is ignored");
        check(Palindromes.isPalindrome("A man, a plan, a canal: Panama!"), "punctuation and spaces ignored");
        check(Palindromes.isPalindrome("No 'x' in Nixon"), "Nixon");
        check(Palindromes.isPalindrome("12,21"), "digits count");
        check(!Palindromes.isPalindrome("12,31"), "digits differ");
        check(Palindromes.isPalindrome(""), "empty");
        check(Palindromes.isPalindrome("?!"), "only punctuation");
        eq("Level,", Palindromes.longestPalindromicWord("See Level, noon"), "longest word");
        finish();
    }
}
