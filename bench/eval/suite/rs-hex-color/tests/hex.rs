use palette::color::{parse_hex, Rgb};

#[test]
fn six_digits() {
    assert_eq!(parse_hex("#ff8000"), Some(Rgb { r: 255, g: 128, b: 0 }));
    assert_eq!(parse_hex("#FF8000"), Some(Rgb { r: 255, g: 128, b: 0 }));
}

#[test]
fn shorthand() {
    assert_eq!(parse_hex("#fa0"), Some(Rgb { r: 255, g: 170, b: 0 }));
    assert_eq!(parse_hex("#000"), Some(Rgb { r: 0, g: 0, b: 0 }));
}

#[test]
fn hash_is_optional() {
    assert_eq!(parse_hex("0a0b0c"), Some(Rgb { r: 10, g: 11, b: 12 }));
    assert_eq!(parse_hex("abc"), parse_hex("#aabbcc"));
}

#[test]
fn bad_input_is_none_not_a_panic() {
    for bad in ["", "#", "#12", "#1234", "#12345", "#1234567", "#ggg", "zzzzzz", "#é12", "#+1+2+3"] {
        assert_eq!(parse_hex(bad), None, "{bad:?}");
    }
}

#[test]
fn round_trip() {
    let c = Rgb { r: 1, g: 200, b: 99 };
    assert_eq!(parse_hex(&c.to_hex()), Some(c));
}
