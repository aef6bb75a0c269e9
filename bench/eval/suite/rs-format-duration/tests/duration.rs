use uptime::duration::format_duration;
use uptime::uptime_line;

#[test]
fn all_parts() {
    assert_eq!(format_duration(3725), "1h 2m 5s");
}

#[test]
fn zero_parts_left_out() {
    assert_eq!(format_duration(3605), "1h 5s");
    assert_eq!(format_duration(60), "1m");
    assert_eq!(format_duration(59), "59s");
    assert_eq!(format_duration(7200), "2h");
}

#[test]
fn days() {
    assert_eq!(format_duration(86_400), "1d");
    assert_eq!(format_duration(93_600), "1d 2h");
    assert_eq!(format_duration(3 * 86_400 + 61), "3d 1m 1s");
}

#[test]
fn zero() {
    assert_eq!(format_duration(0), "0s");
    assert_eq!(uptime_line(0), "up 0s");
}
