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

    /** Move {@code cents} from one account to another; on any error nothing changes. */
    public void transfer(String from, String to, long cents) {
        if (cents <= 0) {
            throw new IllegalArgumentException("amount must be positive: " + cents);
        }
        long fromBalance = balance(from);
        long toBalance = balance(to);
        if (from.equals(to)) {
            throw new IllegalArgumentException("cannot transfer to the same account");
        }
        if (fromBalance < cents) {
            throw new IllegalArgumentException("insufficient funds in " + from);
        }
        balances.put(from, fromBalance - cents);
        balances.put(to, toBalance + cents);
    }
}
