"""The worker side of kimi-review: what runs a review, plus the foundation both sides share.

The flat modules here are the foundation (settings, secrets, logs, Redis key
names, the receiver↔worker contract, the arq codec, metrics, the model's
answer schema and the model-call interfaces) and the two entry points
(`main`: arq's WorkerSettings, `jobs`: the arq job). Each subpackage has one
role; its `__init__` says what it may import, and `lint-imports` (the
contracts in pyproject.toml) keeps those arrows one-way. docs/ARCHITECTURE.md
is the map.
"""
