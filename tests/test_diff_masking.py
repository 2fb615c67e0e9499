"""Secret masking: values hidden from the model, lines and numbers unchanged, each reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_diff_support import changed, git_patch
from worker.diff.masking import MASK, PEM_BODY, mask_secrets
from worker.diff.parse import ParsedFile, parse_file

# Built at run time so the repository itself holds no secret-shaped literal.
GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5" * 3 + "f6G7h8"
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPL1"
MOONSHOT_KEY = "sk-" + "Zq8mN3vX" * 6
PEM_LINES = [
    "KEY = '''-----BEGIN RSA PRIVATE KEY-----",
    "MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgwMbRvI0MBZhpF",
    "q8mB4XlDTOa8Gm7VPqyMj4GQyXoRpNv3YeWbWqJ5F0xBkTUTs2LmYJ5dMQ+Nc3Iz",
    "-----END RSA PRIVATE KEY-----'''",
]


def _file(tmp_path: Path, new_lines: list[str], old_lines: list[str] | None = None) -> ParsedFile:
    old = None if old_lines is None else ("\n".join(old_lines) + "\n").encode()
    patch = git_patch(tmp_path, old, ("\n".join(new_lines) + "\n").encode())
    return parse_file(changed("app/settings.py", patch, "added" if old is None else "modified"))


def _texts(parsed: ParsedFile) -> list[str]:
    return [line.text for hunk in parsed.hunks for line in hunk.lines]


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (f'GITHUB_TOKEN = "{GITHUB_TOKEN}"', GITHUB_TOKEN),
        (f"aws_access_key_id = {AWS_KEY}", AWS_KEY),
        (f'MOONSHOT = "{MOONSHOT_KEY}"', MOONSHOT_KEY),
        ('db_password = "correct-horse-battery"', "correct-horse-battery"),
        ("DATABASE_URL = 'postgres://admin:s3cr3tPa55@db.internal/app'", "s3cr3tPa55"),
    ],
)
def test_secret_values_are_masked_before_the_model_sees_them(
    tmp_path: Path, line: str, secret: str
) -> None:
    result = mask_secrets([_file(tmp_path, ["import os", line, "print(1)"])])
    texts = _texts(result.files[0])
    assert secret not in "\n".join(texts)
    assert MASK in texts[1]
    assert texts[0] == "import os"
    assert [(m.path, m.side, m.line) for m in result.maskings] == [("app/settings.py", "RIGHT", 2)]


def test_masking_keeps_line_count_and_numbers(tmp_path: Path) -> None:
    lines = ["a = 1", f'token = "{GITHUB_TOKEN}"', *PEM_LINES, "b = 2"]
    original = _file(tmp_path, lines)
    masked = mask_secrets([original]).files[0]
    before = [(x.kind, x.old, x.new) for h in original.hunks for x in h.lines]
    after = [(x.kind, x.old, x.new) for h in masked.hunks for x in h.lines]
    assert before == after
    assert all("\n" not in text for text in _texts(masked))


def test_pem_private_key_body_is_masked_line_by_line(tmp_path: Path) -> None:
    result = mask_secrets([_file(tmp_path, ["x = 1", *PEM_LINES, "y = 2"])])
    texts = _texts(result.files[0])
    assert texts[1] == "KEY = '''-----BEGIN RSA PRIVATE KEY-----"
    assert texts[2] == MASK
    assert texts[3] == MASK
    assert texts[4] == PEM_LINES[-1]
    assert texts[5] == "y = 2"
    assert [(m.line, m.kind) for m in result.maskings] == [(3, PEM_BODY), (4, PEM_BODY)]


def test_code_that_names_the_pem_marker_is_left_readable(tmp_path: Path) -> None:
    lines = [
        'if text.startswith("-----BEGIN RSA PRIVATE KEY-----"):',
        "    return load_traditional_openssl_serialization_format(text)",
    ]
    result = mask_secrets([_file(tmp_path, lines)])
    assert _texts(result.files[0]) == lines
    assert result.maskings == []


def test_removed_secret_is_masked_and_reported_on_the_left_side(tmp_path: Path) -> None:
    old = ["x = 1", f'TOKEN = "{GITHUB_TOKEN}"', "y = 2"]
    new = ["x = 1", 'TOKEN = os.environ["TOKEN"]', "y = 2"]
    result = mask_secrets([_file(tmp_path, new, old)])
    assert GITHUB_TOKEN not in "\n".join(_texts(result.files[0]))
    assert [(m.side, m.line) for m in result.maskings] == [("LEFT", 2)]


def test_ordinary_code_is_untouched_and_returned_as_is(tmp_path: Path) -> None:
    lines = [
        "def handler(request, key):",
        "    user_id = request.user.id",
        "    cache_key = f'user:{user_id}'",
        "    password = request.POST['password']",
        "    uuid = '123e4567-e89b-12d3-a456-426614174000'",
        "    return lookup(cache_key)",
    ]
    original = _file(tmp_path, lines)
    result = mask_secrets([original])
    assert result.maskings == []
    assert result.files[0] is original


def test_allowlist_pragma_leaves_a_line_alone(tmp_path: Path) -> None:
    line = f'FAKE = "{GITHUB_TOKEN}"  # pragma: allowlist secret'
    result = mask_secrets([_file(tmp_path, [line])])
    assert _texts(result.files[0]) == [line]
