import pytest

from bank.account import Account, InsufficientFunds
from bank.transfer import transfer


def funded(amount=100):
    account = Account("ann")
    account.deposit(amount)
    return account


def test_ordinary_withdrawal():
    account = funded()
    account.withdraw(60)
    account.withdraw(40)
    assert account.balance == 0
    assert account.history == [("deposit", 100), ("withdraw", 60), ("withdraw", 40)]


def test_overdraft_is_refused_and_changes_nothing():
    account = funded()
    with pytest.raises(InsufficientFunds):
        account.withdraw(101)
    assert account.balance == 100
    assert account.history == [("deposit", 100)]


@pytest.mark.parametrize("amount", [0, -5])
def test_non_positive_amount(amount):
    account = funded()
    with pytest.raises(ValueError):
        account.withdraw(amount)
    assert account.balance == 100


def test_failed_transfer_moves_nothing():
    a, b = funded(50), funded(10)
    with pytest.raises(InsufficientFunds):
        transfer(a, b, 80)
    assert (a.balance, b.balance) == (50, 10)
