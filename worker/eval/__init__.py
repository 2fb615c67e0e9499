"""`kimi-review eval`: measure the reviews against a dataset of cases with known issues.

`dataset` loads and validates case folders, `snapshots` fetches, verifies and
unpacks each case's repository archive, `judge` asks an LLM which finding
names which expected issue, `scoring` turns matches into precision, recall
and F1 (pure), `report` is the JSON report and the comparison of two, and
`runner` runs the cases through the same one-shot review path as
`kimi-review review --diff` (worker.review.local). Nothing here imports
`app`; the command's printing lives in app/eval_cli.py.
"""
