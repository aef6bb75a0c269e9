package app.weather;

import java.util.List;

/** The forecast line for American readers. */
public final class Forecast {
    private Forecast() {}

    public static String line(String city, List<Temperature> days) {
        StringBuilder out = new StringBuilder(city).append(':');
        for (Temperature t : days) {
            out.append(String.format(" %.0fF", t.toF()));
            if (t.isFreezing()) {
                out.append('*');
            }
        }
        return out.toString();
    }

    public static double warmestF(List<Temperature> days) {
        return days.stream().mapToDouble(Temperature::toF).max().orElse(Double.NaN);
    }
}
