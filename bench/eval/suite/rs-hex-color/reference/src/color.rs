#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl Rgb {
    pub fn to_hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// Parse a colour written as `#rrggbb` or `#rgb` (the `#` is optional).
pub fn parse_hex(s: &str) -> Option<Rgb> {
    let s = s.strip_prefix('#').unwrap_or(s);
    if !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let digits: Vec<u8> = s.chars().map(|c| c.to_digit(16).unwrap() as u8).collect();
    match digits.as_slice() {
        [r, g, b] => Some(Rgb { r: r * 17, g: g * 17, b: b * 17 }),
        [r1, r2, g1, g2, b1, b2] => Some(Rgb {
            r: r1 * 16 + r2,
            g: g1 * 16 + g2,
            b: b1 * 16 + b2,
        }),
        _ => None,
    }
}
