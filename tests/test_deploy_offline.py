"""deploy/ on a site with no image registry and a TLS-intercepting proxy, checked statically.

The real run (deploy/smoke.sh) needs a Docker engine and stays out of CI;
these tests pin what it showed the files must keep: no `# syntax=` line (it
makes BuildKit pull its front end from Docker Hub), the site's CA given to
every downloading RUN step as a BuildKit secret and to nothing else, the
base and Redis images overridable, and the scripts that build local images
and run the smoke test self-contained in the repository.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.test_deploy import (
    DEPLOY,
    DOCKERFILE,
    ROOT,
    compose,
    compose_raw,
    dockerfile_instructions,
    example_values,
)

SECRET_MOUNT = "--mount=type=secret,id=extra_ca"
SECRET_PATH = "/run/secrets/extra_ca"
SCRIPTS = (DEPLOY / "offline-images.sh", DEPLOY / "smoke.sh")


def runs() -> list[str]:
    return [args for keyword, args in dockerfile_instructions() if keyword == "RUN"]


def test_dockerfile_has_no_syntax_directive_that_would_pull_a_frontend() -> None:
    """`# syntax=docker/dockerfile:1` made the build fail at once with no registry."""
    for line in DOCKERFILE.read_text().splitlines():
        if not line.startswith("#"):
            break  # parser directives are only read before the first instruction
        assert not re.match(r"#\s*syntax\s*=", line, re.IGNORECASE), line


@pytest.mark.parametrize("tool", ["pip install", "uv sync"])
def test_every_downloading_step_mounts_the_ca_secret(tool: str) -> None:
    """pip and uv ignored the site's CA, so the build failed behind the proxy."""
    steps = [run for run in runs() if tool in run]
    assert steps
    for run in steps:
        assert SECRET_MOUNT in run, run
        # Used only when given: a build without the secret (no proxy) still works.
        assert f"if [ -s {SECRET_PATH} ]; then export" in run, run
    assert all(f"SSL_CERT_FILE={SECRET_PATH}" in run for run in runs() if "uv sync" in run)
    assert all(f"PIP_CERT={SECRET_PATH}" in run for run in runs() if "pip install" in run)


def test_the_ca_reaches_no_layer() -> None:
    """Set in ENV or ARG, or copied in, the CA or its path would stay in the image."""
    for keyword, args in dockerfile_instructions():
        if keyword in ("ENV", "ARG", "COPY", "ADD", "LABEL"):
            assert "extra_ca" not in args, (keyword, args)
            assert not re.search(r"\b(SSL_CERT_FILE|PIP_CERT|REQUESTS_CA_BUNDLE)\b", args), args
    without_mount = [run for run in runs() if SECRET_MOUNT not in run]
    assert not any(SECRET_PATH in run for run in without_mount)


def test_compose_passes_the_base_image_and_the_ca_secret_to_the_build() -> None:
    build = compose_raw()["services"]["api"]["build"]
    assert build["secrets"] == ["extra_ca"]
    assert build["args"]["PYTHON_IMAGE"].startswith("${PYTHON_IMAGE:-")
    instructions = dockerfile_instructions()
    defaults = dict(a.split("=", 1) for k, a in instructions if k == "ARG" and "=" in a)
    resolved = compose({**example_values(), "PYTHON_IMAGE": ""})["services"]["api"]["build"]
    assert resolved["args"]["PYTHON_IMAGE"] == defaults["PYTHON_IMAGE"]
    local = "local/python:3.11-bookworm"
    own = compose({**example_values(), "PYTHON_IMAGE": local})["services"]["worker"]["build"]
    assert own["args"]["PYTHON_IMAGE"] == local


def test_compose_ca_secret_defaults_to_an_empty_file() -> None:
    """Compose needs a file for every secret it names: /dev/null reads empty, the build skips it."""
    assert compose()["secrets"]["extra_ca"]["file"] == "/dev/null"
    given = compose({**example_values(), "KIMI_REVIEW_EXTRA_CA": "/etc/ssl/certs/ca.crt"})
    assert given["secrets"]["extra_ca"]["file"] == "/etc/ssl/certs/ca.crt"
    assert "extra_ca" not in compose()["services"]["worker"].get("secrets", [])


def test_redis_image_is_overridable() -> None:
    assert compose()["services"]["redis"]["image"] == "redis:7.4-alpine"
    local = compose({**example_values(), "KIMI_REVIEW_REDIS_IMAGE": "local/redis:bookworm"})
    assert local["services"]["redis"]["image"] == "local/redis:bookworm"


def test_the_containers_env_file_is_the_checkouts_unless_overridden() -> None:
    assert compose()["services"]["worker"]["env_file"] == ["../.env"]
    other = compose({**example_values(), "KIMI_REVIEW_ENV_FILE": "/tmp/smoke/env"})
    assert other["services"]["api"]["env_file"] == ["/tmp/smoke/env"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_deploy_scripts_are_executable_valid_bash_and_self_contained(script: Path) -> None:
    assert os.access(script, os.X_OK), f"{script.name} is not executable"
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert "/work/" not in text, "points outside the repository"
    assert "../shared" not in text, "points outside the repository"


def test_offline_images_script_builds_both_images_from_debian_packages() -> None:
    text = (DEPLOY / "offline-images.sh").read_text()
    assert text.count("debootstrap --variant=minbase") == 1  # one function, both images
    for package in ("redis-server", "python3", "ca-certificates"):
        assert package in text
    for name in ("PYTHON_IMAGE", "KIMI_REVIEW_REDIS_IMAGE"):
        assert f"${{{name}:-" in text


def test_smoke_script_cleans_up_and_stays_out_of_ci() -> None:
    text = (DEPLOY / "smoke.sh").read_text()
    assert "trap cleanup EXIT" in text
    for removes in ("down --volumes", "docker network rm", 'rm -rf "$tmp"', 'kill "$fakes_pid"'):
        assert removes in text
    assert "smoke.sh" not in (ROOT / ".ci" / "run").read_text()
    assert "deploy/smoke.sh" in (DEPLOY / "README.md").read_text()
