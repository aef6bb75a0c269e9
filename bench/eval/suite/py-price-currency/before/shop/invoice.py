"""Invoices as plain text, for the e-mail receipts."""

from dataclasses import dataclass, field

from shop.money import format_price


@dataclass
class Line:
    description: str
    quantity: int
    unit_cents: int

    @property
    def total(self) -> int:
        return self.quantity * self.unit_cents


@dataclass
class Invoice:
    number: str
    currency: str = "USD"
    lines: list[Line] = field(default_factory=list)

    def total(self) -> int:
        return sum(line.total for line in self.lines)

    def render(self) -> str:
        rows = [f"Invoice {self.number}"]
        for line in self.lines:
            rows.append(f"{line.quantity} x {line.description}: {format_price(line.total)}")
        rows.append(f"Total: {format_price(self.total())}")
        return "\n".join(rows)
