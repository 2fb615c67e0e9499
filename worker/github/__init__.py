"""Talking to GitHub: app auth, the REST client, pacing, paging, errors, a PR's files, redeliveries.

It knows nothing about reviews: it reads and writes GitHub objects
(`models.py`) and raises typed errors (`errors.py`). It may import the
foundation and `worker.diff` (a PR's files are parsed into diff models);
it must not import `worker.review`, `worker.publish`, `worker.llm`,
`worker.runner` or `app`.
"""
