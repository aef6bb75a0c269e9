package app.shop;

/** Prices for the till receipts. */
public final class PriceFormatter {
    private PriceFormatter() {}

    /** 1250 -> "$12.50". */
    public static String format(long cents) {
        String sign = cents < 0 ? "-" : "";
        long abs = Math.abs(cents);
        return String.format("%s$%d.%02d", sign, abs / 100, abs % 100);
    }
}
