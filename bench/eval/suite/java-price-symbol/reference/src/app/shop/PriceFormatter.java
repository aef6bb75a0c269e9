package app.shop;

/** Prices for the till receipts. */
public final class PriceFormatter {
    private PriceFormatter() {}

    /** 1250, "€" -> "€12.50". */
    public static String format(long cents, String symbol) {
        String sign = cents < 0 ? "-" : "";
        long abs = Math.abs(cents);
        return String.format("%s%s%d.%02d", sign, symbol, abs / 100, abs % 100);
    }
}
