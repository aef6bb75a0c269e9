"""Moving money between accounts."""

from bank.account import Account


def transfer(source: Account, target: Account, amount: int) -> None:
    """Move ``amount`` cents from ``source`` to ``target``; nothing moves if it fails."""
    source.withdraw(amount)
    target.deposit(amount)
