use leaderboard::sorted::{insert_position, insert_sorted};

#[test]
fn empty_slice() {
    assert_eq!(insert_position(&[], 5), 0);
}

#[test]
fn larger_than_everything() {
    assert_eq!(insert_position(&[1, 3, 5], 9), 3);
    assert_eq!(insert_position(&[1], 2), 1);
}

#[test]
fn middle_front_and_ties() {
    assert_eq!(insert_position(&[1, 3, 5], 4), 2);
    assert_eq!(insert_position(&[1, 3, 5], 0), 0);
    assert_eq!(insert_position(&[1, 3, 3, 3, 5], 3), 4);
}

#[test]
fn matches_a_linear_scan() {
    let items: Vec<i32> = vec![-4, -4, 0, 2, 2, 2, 7, 11, 11, 30];
    for value in -6..33 {
        let expected = items.iter().take_while(|&&x| x <= value).count();
        assert_eq!(insert_position(&items, value), expected, "value {value}");
    }
}

#[test]
fn building_a_board() {
    let mut board = Vec::new();
    for score in [5, 1, 9, 5, 3, 10] {
        insert_sorted(&mut board, score);
    }
    assert_eq!(board, vec![1, 3, 5, 5, 9, 10]);
}
