use crate::order::{calc_total, Item};

pub fn receipt(items: &[Item]) -> String {
    let mut lines: Vec<String> = items
        .iter()
        .map(|item| format!("{} x{}", item.name, item.quantity))
        .collect();
    lines.push(format!("total {}", calc_total(items)));
    lines.join("\n")
}
