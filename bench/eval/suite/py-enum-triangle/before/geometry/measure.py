"""Areas and perimeters, for the flooring and skirting-board estimates."""

import math

from geometry.shapes import Kind, Shape


def area(shape: Shape) -> float:
    if shape.kind is Kind.CIRCLE:
        (radius,) = shape.dims
        return math.pi * radius * radius
    if shape.kind is Kind.RECTANGLE:
        width, height = shape.dims
        return width * height
    raise ValueError(f"no area for {shape.kind}")


def perimeter(shape: Shape) -> float:
    if shape.kind is Kind.CIRCLE:
        (radius,) = shape.dims
        return 2 * math.pi * radius
    if shape.kind is Kind.RECTANGLE:
        width, height = shape.dims
        return 2 * (width + height)
    raise ValueError(f"no perimeter for {shape.kind}")
