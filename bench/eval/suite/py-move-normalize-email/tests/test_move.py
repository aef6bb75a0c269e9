import inspect

from accounts import validation, views


def test_lives_in_validation():
    assert validation.normalize_email(" Ann@Example.COM ") == "ann@example.com"


def test_defined_once():
    assert "def normalize_email" not in inspect.getsource(views)
    assert views.normalize_email is validation.normalize_email


def test_views_still_work():
    views.USERS.clear()
    assert views.register(" Bob@Example.com", "Secret-Password") == []
    assert views.login("bob@EXAMPLE.com ", "Secret-Password")
    assert views.register("bob@example.com", "Secret-Password") == [
        "an e-mail address not already registered"
    ]
