package app.bank;

import java.util.HashMap;
import java.util.Map;

/** Balances in cents by account id. */
public class Ledger {
    private final Map<String, Long> balances = new HashMap<>();

    public void open(String account, long cents) {
        balances.put(account, cents);
    }

    public long balance(String account) {
        Long cents = balances.get(account);
        if (cents == null) {
            throw new IllegalArgumentException("no account " + account);
        }
        return cents;
    }

    /** Move {@code cents} from one account to another. */
    public void transfer(String from, String to, long cents) {
        balances.put(from, balances.get(from) - cents);
        balances.put(to, balances.get(to) + cents);
    }
}
