"""Accounts of the toy bank. Amounts are integer cents."""

from dataclasses import dataclass, field


class InsufficientFunds(Exception):
    """A withdrawal larger than the balance."""


@dataclass
class Account:
    owner: str
    balance: int = 0
    history: list[tuple[str, int]] = field(default_factory=list)

    def deposit(self, amount: int) -> None:
        if amount <= 0:
            raise ValueError(f"a deposit must be positive, not {amount}")
        self.balance += amount
        self.history.append(("deposit", amount))

    def withdraw(self, amount: int) -> None:
        self.balance -= amount
        self.history.append(("withdraw", amount))
