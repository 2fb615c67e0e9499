"""One review end to end: scope, prompt, chunks through the model, placement, posting, checkpoints.

`flow.py` runs one review (what to review, the pipeline, the post), with the
durable side (leases, retries) handed in as hooks (`hooks.py`) so the same
flow runs in the worker and in the one-shot CLI (`local.py`). It may import
`worker.publish`, `worker.repo_config.plan`, `worker.github`, `worker.llm`,
`worker.gate.redis`, `worker.quota`, `worker.context`, `worker.diff` and the
foundation; it must not import `worker.runner`, `worker.eval`, `worker.main`,
`worker.jobs` or `app`.
"""
