#[derive(Debug, Clone)]
pub struct Item {
    pub name: String,
    pub unit_cents: u64,
    pub quantity: u64,
}

/// The price of the items, with 10% off every item bought by the dozen or more.
pub fn order_total(items: &[Item]) -> u64 {
    items
        .iter()
        .map(|item| {
            let full = item.unit_cents * item.quantity;
            if item.quantity >= 12 {
                full - full / 10
            } else {
                full
            }
        })
        .sum()
}
