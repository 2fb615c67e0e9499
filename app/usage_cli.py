"""`kimi-review usage`: token consumption in the current quota window, per key.

What Kimi's own credit page shows, for the bot's keys: tokens used in this
window (as a percentage of API_LLM_QUOTA_TOKENS when a budget is set), the
next refresh, and the last 10 reviews. Reads Redis only; never calls a model,
so it needs no model key: without one (or with --key-id) it reads ledgers by
their key id, the non-secret hash that names them in Redis.
"""

from __future__ import annotations

from typing import Any, TextIO, cast

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from worker import keys
from worker.config import Settings
from worker.quota import usage_report
from worker.redis_client import redis_client
from worker.secrets import redact_url
from worker.usage import UsageReport, render_usage

EXIT_REDIS_UNAVAILABLE = 3
_SCAN_BATCH = 500


async def ledger_key_ids(redis: Redis) -> list[str]:
    """Every key id with a usage ledger (a window, review or anchor record), sorted."""
    prefix = keys.usage("")
    found: set[str] = set()
    async for raw in cast("Any", redis.scan_iter(match=f"{prefix}*", count=_SCAN_BATCH)):
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        key_id = name[len(prefix) :].split(":", 1)[0]
        if key_id:
            found.add(key_id)
    return sorted(found)


def _which(settings: Settings, key_id: str | None) -> list[str] | None:
    """The key ids asked for; None means every ledger in Redis."""
    if key_id is not None:
        return [key_id]
    if settings.llm.main is not None:
        return [settings.llm.main.key_id]
    return None


async def _reports(
    redis: Redis, settings: Settings, wanted: list[str] | None
) -> list[tuple[str, UsageReport]]:
    key_ids = wanted if wanted is not None else await ledger_key_ids(redis)
    return [(k, await usage_report(redis, k, settings.quota)) for k in key_ids]


def _render(reports: list[tuple[str, UsageReport]], *, many: bool) -> str:
    if not reports:
        return "No usage recorded yet (no ledger in Redis).\n"
    if not many:
        return render_usage(reports[0][1]) + "\n"
    return (
        "\n\n".join(f"Key {key_id}:\n{render_usage(report)}" for key_id, report in reports) + "\n"
    )


async def print_usage(
    settings: Settings, *, as_json: bool, out: TextIO, err: TextIO, key_id: str | None = None
) -> int:
    url = settings.redis_url.reveal()
    client = redis_client(url, connect_timeout=3, socket_timeout=5)
    wanted = _which(settings, key_id)
    try:
        reports = await _reports(client, settings, wanted)
    except (RedisError, OSError) as exc:
        err.write(
            f"kimi-review usage: Redis at {redact_url(url)} did not answer "
            f"({type(exc).__name__}); usage is recorded there by the workers\n"
        )
        return EXIT_REDIS_UNAVAILABLE
    finally:
        await client.aclose()
    many = wanted is None
    if as_json:
        document: object = (
            [{"key_id": k, **msgspec.to_builtins(r)} for k, r in reports] if many else reports[0][1]
        )
        out.write(msgspec.json.format(msgspec.json.encode(document), indent=2).decode() + "\n")
    else:
        out.write(_render(reports, many=many))
    return 0
