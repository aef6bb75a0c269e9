package app.csv;

import java.util.List;

/** A customer record: name,city,email. */
public record Customers(String name, String city, String email) {
    public static Customers parse(String line) {
        List<String> fields = CsvLine.split(line);
        if (fields.size() != 3) {
            throw new IllegalArgumentException("expected 3 fields: " + line);
        }
        return new Customers(fields.get(0), fields.get(1), fields.get(2));
    }
}
