use crate::money::format_amount;

pub struct Line {
    pub item: String,
    pub cents: i64,
}

pub struct Invoice {
    pub number: u32,
    pub currency: String,
    pub lines: Vec<Line>,
}

impl Invoice {
    pub fn total(&self) -> i64 {
        self.lines.iter().map(|l| l.cents).sum()
    }

    pub fn render(&self) -> String {
        let mut out = format!("Invoice {}\n", self.number);
        for line in &self.lines {
            out += &format!("{}: {}\n", line.item, format_amount(line.cents));
        }
        out += &format!("Total: {}", format_amount(self.total()));
        out
    }
}
