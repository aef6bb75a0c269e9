"""Money as integer cents, and how it is shown to customers."""


def format_price(cents: int) -> str:
    """1999 -> '$19.99'."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}${cents // 100}.{cents % 100:02d}"


def parse_price(text: str) -> int:
    """'19.99' -> 1999."""
    units, _, fraction = text.strip().partition(".")
    return int(units) * 100 + int((fraction + "00")[:2])
