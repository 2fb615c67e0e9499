"""The concurrency gate: how many model calls run at once per provider key, fairly across reviews.

`redis.py` is the gate every worker shares (Lua scripts in `scripts.py`,
leases kept alive by `heartbeat.py`, timings in `timing.py`), `local.py` the
in-process one the one-shot CLI uses; both shrink and grow the cap by
`aimd.py` and count in `metrics.py`. The protocol they implement is
`worker.call_guards.ConcurrencyGate`. It may import only the foundation; it
must not import `worker.llm`, `worker.review`, `worker.github` or anything above.
"""
