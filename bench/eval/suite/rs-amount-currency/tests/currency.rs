use billing::invoice::{Invoice, Line};
use billing::money::format_amount;

#[test]
fn amount_with_currency() {
    assert_eq!(format_amount(1250, "EUR"), "12.50 EUR");
    assert_eq!(format_amount(-5, "USD"), "-0.05 USD");
}

#[test]
fn invoice_uses_its_currency() {
    let invoice = Invoice {
        number: 7,
        currency: "CHF".to_string(),
        lines: vec![
            Line { item: "coffee".to_string(), cents: 450 },
            Line { item: "cake".to_string(), cents: 600 },
        ],
    };
    assert_eq!(invoice.render(), "Invoice 7\ncoffee: 4.50 CHF\ncake: 6.00 CHF\nTotal: 10.50 CHF");
}
