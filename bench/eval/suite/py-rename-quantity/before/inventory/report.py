"""Reports for the warehouse team."""

from inventory.stock import Inventory


def low_stock(inventory: Inventory, threshold: int = 5) -> list[str]:
    """SKUs with fewer than ``threshold`` items left."""
    return [sku for sku in inventory.skus() if inventory.get_qty(sku) < threshold]


def restock_plan(inventory: Inventory, target: int = 20) -> dict[str, int]:
    """How many of each low SKU to order to get back to ``target``."""
    return {sku: target - inventory.get_qty(sku) for sku in low_stock(inventory)}
