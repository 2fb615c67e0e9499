"""The webhook receiver: verify → decode → route → persist; it never calls GitHub.

The receiver's modules (`main`, `webhooks`, `signature`, `events`, `routing`,
`intake`, `metrics`) may import only the foundation of the worker
(`worker.contract`, `worker.config`, `worker.keys`, `worker.redis_client`,
`worker.codec`, `worker.secrets`, `worker.logs`, `worker.version`). The
`kimi-review` command (`app.cli`) is the one place that imports both sides.
"""
