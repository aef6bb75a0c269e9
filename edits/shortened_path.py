"""A path a model shortened, read as the one shown file it can mean.

Models name a file the way they last saw it mentioned ("money.py" for shop/money.py). When
the shortened name exists nowhere, and exactly one file shown to the model ends with it,
that file is what the reply means; the plan records the reading as a repair.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath


def shown_path_meant(name: str, shown: Iterable[PurePosixPath]) -> str | None:
    """The one path of ``shown`` whose last components are ``name``'s, or None when none
    or several are, or when ``name`` is that path in full (then it is simply missing)."""
    named = PurePosixPath(name).parts
    matches = [path for path in shown if path.parts[-len(named) :] == named]
    if len(matches) != 1 or matches[0].parts == named:
        return None
    return matches[0].as_posix()
