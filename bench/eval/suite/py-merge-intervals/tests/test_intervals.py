from calendar_tools.intervals import free_slots, merge_intervals


def test_disjoint_and_overlapping():
    assert merge_intervals([(1, 3), (2, 6), (8, 10)]) == [(1, 6), (8, 10)]
    assert merge_intervals([]) == []


def test_unsorted_input():
    assert merge_intervals([(8, 10), (1, 3), (2, 6)]) == [(1, 6), (8, 10)]


def test_touching_intervals_merge():
    assert merge_intervals([(1, 3), (3, 5)]) == [(1, 5)]


def test_contained_interval():
    assert merge_intervals([(1, 10), (2, 4), (5, 7)]) == [(1, 10)]


def test_free_slots_with_messy_input():
    busy = [(600, 660), (540, 570), (560, 600), (700, 720), (705, 710)]
    assert free_slots(busy, 480, 1020) == [(480, 540), (660, 700), (720, 1020)]
