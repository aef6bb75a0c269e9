use wordstats::text::{most_common, word_counts};

#[test]
fn case_and_punctuation() {
    let counts = word_counts("Hello, world! hello... WORLD hello");
    assert_eq!(counts.get("hello"), Some(&3));
    assert_eq!(counts.get("world"), Some(&2));
    assert_eq!(counts.len(), 2);
}

#[test]
fn any_whitespace_and_no_empty_words() {
    let counts = word_counts("  one\ttwo\n\ntwo  -- three ");
    assert_eq!(counts.get("two"), Some(&2));
    assert_eq!(counts.get(""), None);
    assert_eq!(counts.get("--"), None);
    assert_eq!(counts.len(), 3);
}

#[test]
fn inner_punctuation_stays() {
    let counts = word_counts("don't stop, don't!");
    assert_eq!(counts.get("don't"), Some(&2));
}

#[test]
fn most_common_word() {
    assert_eq!(most_common("b a. B, a c"), Some(("a".to_string(), 2)));
    assert_eq!(most_common("   "), None);
}
