package app.weather;

/** A temperature, stored in degrees Celsius. */
public record Temperature(double celsius) {
    public double toF() {
        return celsius * 9 / 5 + 32;
    }

    public boolean isFreezing() {
        return celsius <= 0;
    }
}
