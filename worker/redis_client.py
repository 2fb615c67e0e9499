"""The one way the product opens a Redis client: fail fast, reconnect by itself.

Every process (receiver, worker, `usage`, `doctor`) talks to `REDIS_URL`
through clients made here, so timeouts are chosen in one place. Connecting
gives up after `connect_timeout` so a Redis outage is reported at once (a 503
from the receiver, a clear line from `doctor`) instead of hanging; the pool
reconnects on the next command once Redis is back. `socket_timeout` must stay
above the longest blocking command a client issues (the gate's BLPOP wake-up
blocks for 5 s).
"""

from __future__ import annotations

import redis as syncredis
from redis import asyncio as aioredis


def redis_client(
    url: str, *, connect_timeout: float = 2.0, socket_timeout: float = 10.0
) -> aioredis.Redis:
    """A client for `url` (redis://, rediss:// or unix://) with the product's timeouts."""
    client: aioredis.Redis = aioredis.Redis.from_url(
        url,
        socket_connect_timeout=connect_timeout,
        socket_timeout=socket_timeout,
        health_check_interval=15,
        retry_on_timeout=False,
    )
    return client


def sync_twin(client: aioredis.Redis) -> syncredis.Redis:
    """A blocking client to the same Redis, with the same settings, for a thread of its own.

    The gate's lease heartbeat runs in a thread so it keeps running while the
    event loop is blocked; it cannot share the asyncio client's connections.
    """
    pool = client.connection_pool
    kwargs = {k: v for k, v in pool.connection_kwargs.items() if k != "retry"}
    classes = {
        "Connection": syncredis.Connection,
        "SSLConnection": syncredis.SSLConnection,
        "UnixDomainSocketConnection": syncredis.UnixDomainSocketConnection,
    }
    connection_class = classes.get(pool.connection_class.__name__, syncredis.Connection)
    return syncredis.Redis(
        connection_pool=syncredis.ConnectionPool(connection_class=connection_class, **kwargs)
    )
