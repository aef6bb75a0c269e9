"""The shapes a floor plan is drawn with."""

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    CIRCLE = "circle"
    RECTANGLE = "rectangle"
    TRIANGLE = "triangle"


@dataclass(frozen=True)
class Shape:
    kind: Kind
    dims: tuple[float, ...]


def circle(radius: float) -> Shape:
    return Shape(Kind.CIRCLE, (radius,))


def rectangle(width: float, height: float) -> Shape:
    return Shape(Kind.RECTANGLE, (width, height))


def triangle(a: float, b: float, c: float) -> Shape:
    """A triangle given by its three side lengths."""
    return Shape(Kind.TRIANGLE, (a, b, c))
