//! Run-length encoding for the sprite format: "aaab" <-> "3ab".

/// Encode runs as count + character; a run of one is the character alone.
pub fn encode(input: &str) -> String {
    let mut out = String::new();
    let mut chars = input.chars();
    let Some(mut current) = chars.next() else {
        return out;
    };
    let mut count = 1;
    for c in chars {
        if c == current {
            count += 1;
        } else {
            push_run(&mut out, count, current);
            current = c;
            count = 1;
        }
    }
    push_run(&mut out, count, current);
    out
}

fn push_run(out: &mut String, count: usize, c: char) {
    if count > 1 {
        out.push_str(&count.to_string());
    }
    out.push(c);
}

/// The inverse of [`encode`].
pub fn decode(input: &str) -> String {
    let mut out = String::new();
    let mut count = String::new();
    for c in input.chars() {
        if c.is_ascii_digit() {
            count.push(c);
        } else {
            let n = count.parse().unwrap_or(1);
            out.extend(std::iter::repeat(c).take(n));
            count.clear();
        }
    }
    out
}
