"""`kimi-review usage`: the main key's consumption in its current quota window.

What Kimi's own credit page shows, for the bot's key: tokens used in this
window (as a percentage of API_LLM_QUOTA_TOKENS when a budget is set), the
next refresh, and the last 10 reviews. Reads Redis only; never calls a model.
"""

from __future__ import annotations

from typing import TextIO

import msgspec
from redis.exceptions import RedisError

from worker.config import Settings
from worker.quota import usage_report
from worker.redis_client import redis_client
from worker.secrets import redact_url
from worker.usage import render_usage

EXIT_REDIS_UNAVAILABLE = 3


async def print_usage(settings: Settings, *, as_json: bool, out: TextIO, err: TextIO) -> int:
    if settings.llm.main is None:  # Settings.require("usage") guarantees it
        err.write("kimi-review usage: API_OPEN_AI_API_KEY is required\n")
        return 2
    url = settings.redis_url.reveal()
    client = redis_client(url, connect_timeout=3, socket_timeout=5)
    try:
        report = await usage_report(client, settings.llm.main.key_id, settings.quota)
    except (RedisError, OSError) as exc:
        err.write(
            f"kimi-review usage: Redis at {redact_url(url)} did not answer "
            f"({type(exc).__name__}); usage is recorded there by the workers\n"
        )
        return EXIT_REDIS_UNAVAILABLE
    finally:
        await client.aclose()
    if as_json:
        out.write(msgspec.json.format(msgspec.json.encode(report), indent=2).decode() + "\n")
    else:
        out.write(render_usage(report))
    return 0
