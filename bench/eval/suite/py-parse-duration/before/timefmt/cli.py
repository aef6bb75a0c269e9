"""``python -m timefmt.cli 1h30m`` prints the duration in seconds."""

import sys

from timefmt.durations import format_duration, parse_duration


def main(argv: list[str]) -> int:
    for arg in argv:
        seconds = parse_duration(arg)
        print(f"{arg}: {seconds} s ({format_duration(seconds)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
