"""GitHub's error bodies, decoded once for every caller (pure test vectors)."""

from __future__ import annotations

import pytest

from worker.github.sansio import Body, error_message, error_texts

NOT_FOUND = b'{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}'
REFUSED_LINE = (
    b'{"message": "Validation Failed", "errors": [{"resource": "PullRequestReviewComment",'
    b' "field": "line", "code": "invalid", "message": "could not be resolved"},'
    b' "Pull request review thread line must be part of the diff"]}'
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (NOT_FOUND, "Not Found"),
        (NOT_FOUND.decode(), "Not Found"),
        ({"message": "Bad credentials"}, "Bad credentials"),
        (b"<html>502 Bad Gateway</html>", None),  # a proxy's page
        (b"", None),
        (b"\xff\xfe\xfd", None),  # not text at all
        (b'["a", "list"]', None),
        (b'{"message": 42}', None),
        (None, None),
    ],
)
def test_error_message_is_githubs_message_or_none(body: Body, message: str | None) -> None:
    assert error_message(body) == message


def test_error_texts_name_every_refused_field_then_the_message() -> None:
    assert error_texts(REFUSED_LINE) == [
        "line could not be resolved invalid",
        "Pull request review thread line must be part of the diff",
        "Validation Failed",
    ]


@pytest.mark.parametrize(
    ("body", "texts"),
    [
        (b"plain words", ["plain words"]),
        ("plain words", ["plain words"]),
        (b"\xffbad", ["\ufffdbad"]),
        (b'["x"]', ["['x']"]),
        ({"message": ""}, []),
    ],
)
def test_error_texts_of_a_body_that_is_not_an_object_is_the_body(
    body: Body, texts: list[str]
) -> None:
    assert error_texts(body) == texts
