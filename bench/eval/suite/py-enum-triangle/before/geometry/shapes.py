"""The shapes a floor plan is drawn with."""

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    CIRCLE = "circle"
    RECTANGLE = "rectangle"


@dataclass(frozen=True)
class Shape:
    kind: Kind
    dims: tuple[float, ...]


def circle(radius: float) -> Shape:
    return Shape(Kind.CIRCLE, (radius,))


def rectangle(width: float, height: float) -> Shape:
    return Shape(Kind.RECTANGLE, (width, height))
