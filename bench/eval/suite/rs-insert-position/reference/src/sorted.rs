/// The index at which `value` goes into the sorted `items` to keep them sorted, after any
/// elements equal to it (so equal scores keep their arrival order).
pub fn insert_position(items: &[i32], value: i32) -> usize {
    let mut lo = 0;
    let mut hi = items.len();
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if items[mid] <= value {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Insert `value` keeping `items` sorted.
pub fn insert_sorted(items: &mut Vec<i32>, value: i32) {
    let at = insert_position(items, value);
    items.insert(at, value);
}
