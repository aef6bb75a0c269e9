from shop.invoice import Invoice, Line
from shop.money import format_price


def test_symbols():
    assert format_price(1999, "USD") == "$19.99"
    assert format_price(1999, "EUR") == "€19.99"
    assert format_price(5, "GBP") == "£0.05"
    assert format_price(-250, "USD") == "-$2.50"


def test_code_when_no_symbol():
    assert format_price(1999, "CHF") == "CHF 19.99"


def test_invoice_in_its_currency():
    invoice = Invoice("A-1", "EUR", [Line("tea", 2, 350), Line("cake", 1, 400)])
    assert invoice.render() == "Invoice A-1\n2 x tea: €7.00\n1 x cake: €4.00\nTotal: €11.00"


def test_invoice_default_currency():
    assert Invoice("B", lines=[Line("pen", 1, 120)]).render().endswith("Total: $1.20")
