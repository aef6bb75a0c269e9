use crate::order::{order_total, Item};

pub fn receipt(items: &[Item]) -> String {
    let mut lines: Vec<String> = items
        .iter()
        .map(|item| format!("{} x{}", item.name, item.quantity))
        .collect();
    lines.push(format!("total {}", order_total(items)));
    lines.join("\n")
}
