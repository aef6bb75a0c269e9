"""Busy intervals of a calendar, as (start, end) minutes since midnight."""

Interval = tuple[int, int]


def merge_intervals(intervals: list[Interval]) -> list[Interval]:
    """The union of ``intervals`` as sorted, non-overlapping intervals."""
    merged: list[Interval] = []
    for start, end in intervals:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def free_slots(busy: list[Interval], day_start: int, day_end: int) -> list[Interval]:
    """The gaps between the busy intervals within the working day."""
    slots: list[Interval] = []
    cursor = day_start
    for start, end in merge_intervals(busy):
        if start > cursor:
            slots.append((cursor, min(start, day_end)))
        cursor = max(cursor, end)
    if cursor < day_end:
        slots.append((cursor, day_end))
    return slots
