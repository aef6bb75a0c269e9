"""Checks on what people type into the sign-up form."""

import re

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


def is_valid_email(email: str) -> bool:
    return bool(_EMAIL.match(email))


def password_problems(password: str) -> list[str]:
    problems = []
    if len(password) < 10:
        problems.append("at least 10 characters")
    if password.lower() == password:
        problems.append("an upper-case letter")
    return problems
