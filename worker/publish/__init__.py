"""Everything the bot writes on GitHub: comments, the summary, the check run, their markers.

`poster.py` posts a review (inline comments, summary, check run),
`findings.py` places findings on diff lines, `render.py`/`summary.py`/
`check_run.py`/`live_check.py` write the Markdown and check-run text,
`messages.py` holds every fixed sentence the bot says, `sanitize.py` and
`links.py` make untrusted text safe to post, `fingerprint.py` the hidden
markers that make a re-post idempotent, `rejections.py` what GitHub refused.
It may import `worker.github`, `worker.llm` (token counts), `worker.diff` and
the foundation; it must not import `worker.review`, `worker.runner` or `app`.
"""
