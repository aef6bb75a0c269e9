from shop.models import Item


def total_value(items):
    total = 0
    for item in items:
        total = total + item.price * item.quantity
    return total


def describe(item: Item) -> str:
    return f"{item.name}: {item.quantity} x {item.price:.2f}"
