"""Checks on what people type into the sign-up form."""

import re

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


def normalize_email(email: str) -> str:
    """' Ann@Example.COM ' -> 'ann@example.com'."""
    return email.strip().lower()


def is_valid_email(email: str) -> bool:
    return bool(_EMAIL.match(email))


def password_problems(password: str) -> list[str]:
    problems = []
    if len(password) < 10:
        problems.append("at least 10 characters")
    if password.lower() == password:
        problems.append("an upper-case letter")
    return problems
