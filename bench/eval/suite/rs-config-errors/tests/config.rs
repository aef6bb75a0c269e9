use svcconf::config::{parse, Config};

#[test]
fn plain_file() {
    let c = parse("name=api\nport=9000\ndebug=true").unwrap();
    assert_eq!(c, Config { name: "api".into(), port: 9000, debug: true });
}

#[test]
fn comments_blank_lines_and_spaces() {
    let c = parse("# the api\n\n  name = api server \nport= 81\n   # debug=true\n").unwrap();
    assert_eq!(c, Config { name: "api server".into(), port: 81, debug: false });
}

#[test]
fn missing_equals_names_the_line() {
    let err = parse("name=x\n\nport 80").unwrap_err();
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn unknown_key_names_the_line() {
    let err = parse("# c\nnmae=x").unwrap_err();
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn bad_port_names_the_line() {
    let err = parse("port=eighty").unwrap_err();
    assert!(err.contains("line 1"), "{err}");
    assert!(parse("port=70000").unwrap_err().contains("line 1"));
}

#[test]
fn empty_is_default() {
    assert_eq!(parse("").unwrap(), Config::default());
}
