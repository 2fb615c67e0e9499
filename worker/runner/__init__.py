"""Durable execution of reviews: the task store, leases, attempts, retries, the worker's services.

`tasks.py` is the Redis review-task store (one lease per pull request),
`runner.py` claims and resumes tasks, `attempt.py` runs one attempt of a
review and records its outcome, `retry.py` decides when to try again,
`redis_hooks.py` is the worker's side of the flow's hooks (checkpoints,
quota, deferral) and `services.py` the clients built once per worker. It
may import `worker.review` and everything below it; only `worker.jobs`,
`worker.main` and `app.cli` import it.
"""
