"""deploy/: compose.yaml, the Dockerfile and .dockerignore, checked without a Docker engine.

CI has no Docker engine (deploy/smoke.sh runs the real thing), so these tests read the
files as Compose and BuildKit would (YAML with merge keys, `${VAR:-default}`
substitution, Dockerfile instructions, .dockerignore patterns) and pin what
the deployment must keep: only real `kimi-review` subcommands, a Redis that
keeps jobs (AOF, noeviction, a password), health checks that probe real
endpoints, restarts, and no secret ever copied into an image.
"""

from __future__ import annotations

import argparse
import fnmatch
import http.server
import json
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.cli import _parser
from worker import keys
from worker.config import Command, load_settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
APP_SERVICES = ("api", "worker")
RESTART_POLICIES = {"always", "unless-stopped", "on-failure"}


# --- reading the files the way Docker does ------------------------------------
_VARIABLE = re.compile(
    r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\})"
)


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}` and `$$`, applied to every string."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name, op, arg = match["name"], match["op"] or "", match["arg"]
        current = env.get(name)
        unset = current is None or (op.startswith(":") and current == "")
        if op.endswith("?") and unset:
            raise LookupError(f"{name}: {arg}")
        if op.endswith("-") and unset:
            return arg
        return current or ""

    return _VARIABLE.sub(substitute, value)


def compose_raw() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def example_values(*, include_commented: bool = False) -> dict[str, str]:
    """`VAR=value` lines of .env.example (and `# VAR=value` ones when asked)."""
    pattern = re.compile(r"^(#\s?)?([A-Z][A-Z0-9_]*)=(.*)$")
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = pattern.match(line)
        if match and (include_commented or match[1] is None):
            found[match[2]] = match[3]
    return found


def compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """compose.yaml as Compose sees it with the example .env given to --env-file."""
    resolved = interpolate(compose_raw(), example_values() if env is None else env)
    assert isinstance(resolved, dict)
    return resolved


def command_of(service: Mapping[str, Any]) -> list[str]:
    command = service["command"]
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """`kimi-review`'s subcommands, from its own argparse parser."""
    for action in _parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("kimi-review has no subcommands")


def assert_is_kimi_review_command(argv: list[str]) -> None:
    assert argv, "empty command"
    assert argv[0] in subcommands(), f"{argv} is not a kimi-review subcommand"
    try:
        _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on an unknown option
        raise AssertionError(f"kimi-review rejects {argv}") from exc


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):  # BuildKit drops comments, even mid-instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    pairs = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        pairs.append((keyword.upper(), rest.strip()))
    return pairs


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def exec_form(arguments: str) -> list[str]:
    parsed = json.loads(arguments)
    assert isinstance(parsed, list), f"{arguments} is not the exec (JSON) form"
    return [str(part) for part in parsed]


def dockerignore_excludes(path: str) -> bool:
    """Whether BuildKit leaves `path` out of the context: the last matching rule wins,
    and a rule matching a parent directory applies to everything inside it."""
    rules = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        rules.append((negate, pattern.strip("/")))
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negate, pattern in rules:
        if any(_docker_match(pattern, prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


def _docker_match(pattern: str, path: str) -> bool:
    regex = ""
    for piece in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
        regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
            piece, re.escape(piece)
        )
    return re.fullmatch(regex, path) is not None


# --- compose.yaml -----------------------------------------------------------------
def test_compose_file_parses_with_redis_api_and_worker() -> None:
    services = compose()["services"]
    assert set(services) == {"redis", "api", "worker"}


def test_every_service_command_is_a_real_kimi_review_subcommand() -> None:
    services = compose()["services"]
    for name in APP_SERVICES:
        assert_is_kimi_review_command(command_of(services[name]))
    assert command_of(services["api"])[0] == "serve"
    assert command_of(services["worker"])[0] == "worker"


def test_image_entrypoint_is_the_kimi_review_console_script() -> None:
    instructions = dict(final_stage())
    assert exec_form(instructions["ENTRYPOINT"]) == ["kimi-review"]
    assert_is_kimi_review_command(exec_form(instructions["CMD"]))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "kimi-review" in scripts


def test_redis_keeps_jobs_with_aof_noeviction_and_a_password() -> None:
    redis = compose()["services"]["redis"]
    argv = command_of(redis)
    options = dict(zip(argv[1::2], argv[2::2], strict=False))
    assert argv[0] == "redis-server"
    assert options["--appendonly"] == "yes"
    assert options["--maxmemory-policy"] == "noeviction"
    assert options["--requirepass"] == example_values()["KIMI_REVIEW_REDIS_PASSWORD"]
    assert redis["healthcheck"]["test"]
    assert redis["restart"] in RESTART_POLICIES
    assert any(str(volume).endswith(":/data") for volume in redis["volumes"])
    assert "ports" not in redis, "Redis must not be published on the host"


def test_compose_refuses_to_start_without_a_redis_password() -> None:
    values = example_values()
    del values["KIMI_REVIEW_REDIS_PASSWORD"]
    with pytest.raises(LookupError, match="KIMI_REVIEW_REDIS_PASSWORD"):
        compose(values)


def test_app_services_restart_and_wait_for_a_healthy_redis() -> None:
    services = compose()["services"]
    for name in APP_SERVICES:
        service = services[name]
        assert service["restart"] in RESTART_POLICIES, name
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name
        assert service["healthcheck"]["test"], name
        assert service["env_file"] == ["../.env"], name
        assert (COMPOSE.parent / service["env_file"][0]).resolve() == ROOT / ".env"


def test_worker_replicas_are_configurable() -> None:
    raw = compose_raw()["services"]["worker"]["deploy"]["replicas"]
    assert "${KIMI_REVIEW_WORKERS" in raw
    assert int(compose()["services"]["worker"]["deploy"]["replicas"]) >= 1
    scaled = compose({**example_values(), "KIMI_REVIEW_WORKERS": "7"})
    assert int(scaled["services"]["worker"]["deploy"]["replicas"]) == 7


def test_private_key_is_mounted_as_a_file_only_into_workers(tmp_path: Path) -> None:
    resolved = compose()
    worker, api = resolved["services"]["worker"], resolved["services"]["api"]
    (secret_name,) = worker["secrets"]
    mounted_at = f"/run/secrets/{secret_name}"
    assert environment_of(worker)["GITHUB_APP_PRIVATE_KEY_PATH"] == mounted_at
    assert environment_of(worker)["GITHUB_APP_PRIVATE_KEY"] == ""  # the file is the only source
    source = resolved["secrets"][secret_name]["file"]
    assert (COMPOSE.parent / source).resolve().parent == ROOT
    assert "secrets" not in api, "the receiver never calls GitHub and needs no key"
    assert environment_of(api)["GITHUB_APP_PRIVATE_KEY_PATH"] == ""
    assert environment_of(api)["GITHUB_APP_PRIVATE_KEY"] == ""


def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _settings_in_container(service: str, key_file: Path) -> dict[str, str]:
    """The environment a container gets: .env (the example), then `environment:`."""
    env = {**example_values(), **environment_of(compose()["services"][service])}
    if env.get("GITHUB_APP_PRIVATE_KEY_PATH", "").startswith("/run/secrets/"):
        env["GITHUB_APP_PRIVATE_KEY_PATH"] = str(key_file)  # where the secret is on this host
    return env


def test_containers_start_with_the_example_env_and_the_compose_redis(tmp_path: Path) -> None:
    key_file = tmp_path / "github-app.private-key.pem"
    key_file.write_text(private_key_pem())
    cases: tuple[tuple[str, Command], ...] = (("api", "serve"), ("worker", "worker"))
    for service, command in cases:
        settings = load_settings(_settings_in_container(service, key_file))
        settings.require(command)
        redis_url = settings.redis_url.reveal()
        password = example_values()["KIMI_REVIEW_REDIS_PASSWORD"]
        assert redis_url == f"redis://:{password}@redis:6379/0", service


def test_healthchecks_probe_the_receivers_liveness_endpoint() -> None:
    services = compose()["services"]
    api_probe = services["api"]["healthcheck"]["test"]
    port = command_of(services["api"])[command_of(services["api"]).index("--port") + 1]
    assert api_probe[:3] == ["CMD", "python", "-c"]
    assert f"http://127.0.0.1:{port}/healthz" in api_probe[3]
    worker_probe = services["worker"]["healthcheck"]["test"]
    assert f"'{keys.HEALTH_CHECK}'" in worker_probe[3]
    image_probe = dict(final_stage())["HEALTHCHECK"]
    assert "http://127.0.0.1:8080/healthz" in image_probe
    assert "curl" not in image_probe
    assert "wget" not in image_probe


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def health_server() -> Iterator[tuple[http.server.HTTPServer, type[_Health]]]:
    handler = type("Health", (_Health,), {"status": 200})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, handler
    finally:
        server.shutdown()
        server.server_close()


def _run_probe(test: list[str], env: Mapping[str, str] | None = None) -> int:
    assert test[:2] == ["CMD", "python"]
    argv = [sys.executable, *test[2:]]
    return subprocess.run(argv, env=env, capture_output=True, timeout=30, check=False).returncode


def test_api_healthcheck_passes_on_200_and_fails_on_503_or_no_server(
    health_server: tuple[http.server.HTTPServer, type[_Health]],
) -> None:
    server, handler = health_server
    probe = compose()["services"]["api"]["healthcheck"]["test"]
    here = [*probe[:3], probe[3].replace("127.0.0.1:8080", f"127.0.0.1:{server.server_port}")]
    assert _run_probe(here) == 0
    handler.status = 503
    assert _run_probe(here) != 0
    server.shutdown()
    server.server_close()
    assert _run_probe(here) != 0


async def test_worker_healthcheck_follows_arqs_health_check_key(
    redis: aioredis.Redis, redis_url: str
) -> None:
    probe = compose()["services"]["worker"]["healthcheck"]["test"]
    env = {"REDIS_URL": redis_url, "PATH": "/usr/bin:/bin"}
    assert _run_probe(probe, env) != 0, "no worker has polled: unhealthy"
    await redis.set(keys.HEALTH_CHECK, b"j_complete=0", px=31_000)
    assert _run_probe(probe, env) == 0


# --- Dockerfile ------------------------------------------------------------------
def test_dockerfile_is_multi_stage_and_ships_only_the_built_app() -> None:
    instructions = dockerfile_instructions()
    stages = [args for keyword, args in instructions if keyword == "FROM"]
    assert len(stages) >= 2
    assert re.search(r"\bAS build\b", stages[0], re.IGNORECASE)
    copies = [args for keyword, args in final_stage() if keyword == "COPY"]
    assert copies
    assert all(args.startswith("--from=build ") for args in copies)
    base = dict(a.split("=", 1) for k, a in instructions if k == "ARG" and "=" in a)
    assert re.fullmatch(r"python:3\.1[12]-slim(-\w+)?", base["PYTHON_IMAGE"])


def test_dependencies_come_from_the_lock_file_with_uv_sync_frozen() -> None:
    runs = [args for keyword, args in dockerfile_instructions() if keyword == "RUN"]
    syncs = [run for run in runs if "uv sync" in run]
    assert syncs
    assert all("--frozen" in run for run in syncs)
    assert any(re.search(r"pip install .*\"uv==\$\{UV_VERSION\}\"", run) for run in runs)
    # No binary downloaded from outside the package registries.
    for keyword, args in dockerfile_instructions():
        assert keyword != "ADD", args
        assert not re.search(r"\b(curl|wget)\b", args), args


def test_image_runs_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    args = dict(a.split("=", 1) for k, a in instructions if k == "ARG" and "=" in a)
    users = [a for k, a in final_stage() if k == "USER"]
    assert users, "the runtime stage sets no USER"
    user = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], users[-1])
    uid = user.split(":")[0]
    assert uid not in {"0", "root"}
    assert int(uid) >= 1000


def copied_from_context() -> set[str]:
    """Sources of the COPY instructions that read the build context."""
    return {
        source.rstrip("/")
        for keyword, args in dockerfile_instructions()
        if keyword == "COPY" and not args.startswith("--from")
        for source in args.split()[:-1]
    }


def test_image_holds_every_package_and_the_prompts() -> None:
    copied = copied_from_context()
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    for package in packages["targets"]["wheel"]["packages"]:
        assert package in copied, f"{package}/ is not copied into the image"
    assert "prompts" in copied, "prompts/ are read at run time"
    assert {"pyproject.toml", "uv.lock", "README.md"} <= copied


def test_everything_the_dockerfile_copies_is_in_the_build_context() -> None:
    for source in copied_from_context():
        assert not dockerignore_excludes(source), f"{source} is .dockerignored"
    for needed in ("app/cli.py", "worker/config.py", "prompts/review.md", "README.md"):
        assert not dockerignore_excludes(needed), needed


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        "github-app.private-key.pem",
        "worker/github/test.pem",
        "prompts/.env",
        "app/tls.key",
        ".git/config",
        ".venv/bin/python",
        "tests/conftest.py",
        "worker/__pycache__/config.cpython-312.pyc",
        "deploy/compose.yaml",
    ],
)
def test_secrets_and_local_clutter_never_enter_the_build_context(path: str) -> None:
    assert dockerignore_excludes(path)


def test_dockerignore_matcher_follows_docker_semantics() -> None:
    """The matcher above must agree with fnmatch on plain names, or the checks mean nothing."""
    assert _docker_match("*.pem", "key.pem")
    assert fnmatch.fnmatch("key.pem", "*.pem")
    assert not _docker_match("*.pem", "dir/key.pem")  # `*` stops at a slash, as in Go
    assert _docker_match("**/*.pem", "key.pem")
    assert _docker_match("**/*.pem", "a/b/key.pem")
