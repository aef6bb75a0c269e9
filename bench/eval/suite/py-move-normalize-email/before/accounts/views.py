"""Sign-up and log-in."""

from accounts.validation import is_valid_email, password_problems

USERS: dict[str, str] = {}


def normalize_email(email: str) -> str:
    """' Ann@Example.COM ' -> 'ann@example.com'."""
    return email.strip().lower()


def register(email: str, password: str) -> list[str]:
    """Register a user; the problems that stop it (empty when registered)."""
    email = normalize_email(email)
    problems = [] if is_valid_email(email) else ["a valid e-mail address"]
    problems += password_problems(password)
    if email in USERS:
        problems.append("an e-mail address not already registered")
    if not problems:
        USERS[email] = password
    return problems


def login(email: str, password: str) -> bool:
    return USERS.get(normalize_email(email)) == password
