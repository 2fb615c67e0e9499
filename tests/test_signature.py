"""Webhook signature verification, against GitHub's published test vector."""

from __future__ import annotations

import pytest

from app.signature import (
    InvalidSignature,
    MissingSignature,
    sign,
    signature_digest,
    verify_signature,
)

# https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
GITHUB_SECRET = b"It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_published_vector_verifies() -> None:
    assert sign(GITHUB_BODY, secret=GITHUB_SECRET) == GITHUB_SIGNATURE
    verify_signature(GITHUB_BODY, header=GITHUB_SIGNATURE, secret=GITHUB_SECRET)


def test_uppercase_hex_digest_is_accepted() -> None:
    header = "sha256=" + GITHUB_SIGNATURE.removeprefix("sha256=").upper()
    verify_signature(GITHUB_BODY, header=header, secret=GITHUB_SECRET)


@pytest.mark.parametrize("header", [None, ""])
def test_missing_signature_is_refused(header: str | None) -> None:
    with pytest.raises(MissingSignature):
        verify_signature(GITHUB_BODY, header=header, secret=GITHUB_SECRET)


@pytest.mark.parametrize(
    "header",
    [
        GITHUB_SIGNATURE.replace("7571", "7570"),
        "sha1=" + GITHUB_SIGNATURE.removeprefix("sha256="),
        "sha256=",
        "garbage",
    ],
)
def test_wrong_signature_is_refused(header: str) -> None:
    with pytest.raises(InvalidSignature):
        verify_signature(GITHUB_BODY, header=header, secret=GITHUB_SECRET)


def test_a_changed_body_does_not_verify() -> None:
    with pytest.raises(InvalidSignature):
        verify_signature(GITHUB_BODY + b" ", header=GITHUB_SIGNATURE, secret=GITHUB_SECRET)


def test_another_secret_does_not_verify() -> None:
    with pytest.raises(InvalidSignature):
        verify_signature(GITHUB_BODY, header=GITHUB_SIGNATURE, secret=b"another secret")


@pytest.mark.parametrize("header", ["sha256=é" + "0" * 63, "sha256=\u2603", "sha256=ｆｆ"])
def test_non_ascii_signature_is_refused_not_a_crash(header: str) -> None:
    """Regression: a non-ASCII digest made hmac.compare_digest raise TypeError (a 500)."""
    with pytest.raises(InvalidSignature):
        verify_signature(GITHUB_BODY, header=header, secret=GITHUB_SECRET)


@pytest.mark.parametrize("header", [None, "", "garbage", "sha256=zz", "sha256=é"])
def test_a_header_that_cannot_match_is_refused_before_the_body_is_known(
    header: str | None,
) -> None:
    """The header's shape is checked alone, so the receiver refuses it without reading a body."""
    with pytest.raises((MissingSignature, InvalidSignature)):
        signature_digest(header)


def test_a_well_formed_header_gives_its_digest() -> None:
    assert signature_digest(GITHUB_SIGNATURE.upper().replace("SHA256", "sha256")) == (
        GITHUB_SIGNATURE.removeprefix("sha256=")
    )
