use orders::order::order_total;
use orders::receipt::receipt;
use orders::Item;

fn items() -> Vec<Item> {
    vec![
        Item { name: "bun".to_string(), unit_cents: 100, quantity: 12 },
        Item { name: "loaf".to_string(), unit_cents: 350, quantity: 1 },
    ]
}

#[test]
fn order_total_is_the_new_name() {
    assert_eq!(order_total(&items()), 1080 + 350);
    assert_eq!(orders::order_total(&[]), 0);
}

#[test]
fn receipt_still_adds_up() {
    assert_eq!(receipt(&items()), "bun x12\nloaf x1\ntotal 1430");
}
