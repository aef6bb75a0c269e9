use rle::{decode, encode};

#[test]
fn last_run_is_kept() {
    assert_eq!(encode("aab"), "2ab");
    assert_eq!(encode("abccc"), "ab3c");
    assert_eq!(encode("x"), "x");
    assert_eq!(encode("zzzz"), "4z");
}

#[test]
fn empty() {
    assert_eq!(encode(""), "");
}

#[test]
fn long_runs_and_unicode() {
    assert_eq!(encode(&"é".repeat(12)), "12é");
}

#[test]
fn round_trip() {
    for s in ["aaabccddddde", "abc", "wwwwwwwwwwwwbw", "ééa"] {
        assert_eq!(decode(&encode(s)), s);
    }
}
