import pytest

from netutil.gateway import Gateway
from netutil.retry import retry


def flaky(failures, error):
    calls = []

    def func():
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return "ok"

    return func, calls


def test_default_still_retries_everything():
    func, calls = flaky(2, ValueError("x"))
    assert retry(times=3)(func)() == "ok"
    assert len(calls) == 3


def test_listed_exception_is_retried():
    func, calls = flaky(1, ConnectionError("down"))
    assert retry(times=3, exceptions=(ConnectionError,))(func)() == "ok"
    assert len(calls) == 2


def test_other_exception_propagates_at_once():
    func, calls = flaky(5, KeyError("bug"))
    with pytest.raises(KeyError):
        retry(times=3, exceptions=(ConnectionError, TimeoutError))(func)()
    assert len(calls) == 1


def test_gives_up_after_times():
    func, calls = flaky(5, TimeoutError())
    with pytest.raises(TimeoutError):
        retry(times=4, exceptions=(TimeoutError,))(func)()
    assert len(calls) == 4


def test_gateway_unchanged():
    class Transport:
        def post(self, path, body):
            return f"{path}:{body['cents']}"

    assert Gateway(Transport()).charge("a", 5) == "/charge:5"
