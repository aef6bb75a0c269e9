package app.shop;

import java.util.ArrayList;
import java.util.List;

/** A till receipt in the shop's currency. */
public class Receipt {
    private final String symbol;
    private final List<String> names = new ArrayList<>();
    private final List<Long> prices = new ArrayList<>();

    public Receipt(String symbol) {
        this.symbol = symbol;
    }

    public String symbol() {
        return symbol;
    }

    public void add(String name, long cents) {
        names.add(name);
        prices.add(cents);
    }

    public String render() {
        StringBuilder out = new StringBuilder();
        long total = 0;
        for (int i = 0; i < names.size(); i++) {
            out.append(names.get(i)).append(' ').append(PriceFormatter.format(prices.get(i), symbol)).append('\n');
            total += prices.get(i);
        }
        return out.append("TOTAL ").append(PriceFormatter.format(total, symbol)).toString();
    }
}
