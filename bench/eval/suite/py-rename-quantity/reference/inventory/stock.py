"""Stock levels per SKU."""


class Inventory:
    def __init__(self) -> None:
        self._levels: dict[str, int] = {}

    def add(self, sku: str, qty: int) -> None:
        self._levels[sku] = self._levels.get(sku, 0) + qty

    def remove(self, sku: str, qty: int) -> None:
        if self.quantity_of(sku) < qty:
            raise ValueError(f"only {self.quantity_of(sku)} of {sku} in stock")
        self._levels[sku] -= qty

    def quantity_of(self, sku: str) -> int:
        """How many of ``sku`` are in stock (0 for an unknown SKU)."""
        return self._levels.get(sku, 0)

    def skus(self) -> list[str]:
        return sorted(self._levels)
