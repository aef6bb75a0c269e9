"""Roman numerals, as printed on the clock faces the shop sells."""

_VALUES = [(1000, "M"), (500, "D"), (100, "C"), (50, "L"), (10, "X"), (5, "V"), (1, "I")]
_LETTERS = {letter: value for value, letter in _VALUES}
_SUBTRACTIVE = [
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
    (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
]


def to_roman(number: int) -> str:
    """1994 -> 'MCMXCIV'."""
    if not 1 <= number <= 3999:
        raise ValueError(f"{number} cannot be written in Roman numerals (1 to 3999)")
    out = []
    for value, letters in _SUBTRACTIVE:
        count, number = divmod(number, value)
        out.append(letters * count)
    return "".join(out)


def from_roman(text: str) -> int:
    """'MCMXCIV' -> 1994 (a smaller numeral before a larger one is subtracted)."""
    total = 0
    values = [_LETTERS[c] for c in text.upper()]
    for i, value in enumerate(values):
        if i + 1 < len(values) and value < values[i + 1]:
            total -= value
        else:
            total += value
    return total
