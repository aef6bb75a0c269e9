"""Money as integer cents, and how it is shown to customers."""

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def format_price(cents: int, currency: str) -> str:
    """1999, 'USD' -> '$19.99'; a currency without a symbol is written as its code."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    symbol = _SYMBOLS.get(currency, f"{currency} ")
    return f"{sign}{symbol}{cents // 100}.{cents % 100:02d}"


def parse_price(text: str) -> int:
    """'19.99' -> 1999."""
    units, _, fraction = text.strip().partition(".")
    return int(units) * 100 + int((fraction + "00")[:2])
