"""A repository's own `.kimi-review.toml`: its schema and what it changes for a review.

`schema.py` checks the file's keys and values (pure); `read.py` reads it from
the base commit (never the head); `plan.py` decides the review's settings from
the environment, the file and a maintainer's command, and describes them. It
may import `worker.publish` (comment caps, safe Markdown), `worker.github`
models and the foundation; it must not import `worker.review`, `worker.runner`
or `app`.
"""
