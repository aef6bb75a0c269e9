import math

from geometry.measure import area, perimeter
from geometry.shapes import Kind, circle, rectangle, triangle


def test_triangle_kind():
    assert Kind.TRIANGLE.value == "triangle"
    assert triangle(3, 4, 5).kind is Kind.TRIANGLE


def test_triangle_area_and_perimeter():
    assert math.isclose(area(triangle(3, 4, 5)), 6.0)
    assert math.isclose(area(triangle(2, 2, 2)), math.sqrt(3))
    assert math.isclose(perimeter(triangle(3, 4, 5)), 12.0)


def test_other_shapes_unchanged():
    assert math.isclose(area(circle(1)), math.pi)
    assert area(rectangle(2, 3)) == 6
    assert perimeter(rectangle(2, 3)) == 10
