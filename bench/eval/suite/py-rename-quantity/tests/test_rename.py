import pytest

from inventory.report import low_stock, restock_plan
from inventory.stock import Inventory


def stocked():
    inv = Inventory()
    inv.add("apple", 3)
    inv.add("pear", 30)
    inv.add("plum", 1)
    return inv


def test_quantity_of():
    inv = stocked()
    assert inv.quantity_of("apple") == 3
    assert inv.quantity_of("kiwi") == 0


def test_old_name_is_gone():
    assert not hasattr(Inventory, "get_qty")


def test_remove_uses_the_new_name():
    inv = stocked()
    inv.remove("pear", 10)
    assert inv.quantity_of("pear") == 20
    with pytest.raises(ValueError):
        inv.remove("plum", 2)


def test_reports():
    inv = stocked()
    assert low_stock(inv) == ["apple", "plum"]
    assert restock_plan(inv) == {"apple": 17, "plum": 19}
