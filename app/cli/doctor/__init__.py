"""`kimi-review doctor`: check settings, Redis, models and the GitHub App; say what to fix.

`checks.py` runs the checks, `github.py` the GitHub App's, `report.py`
prints them without a secret. Part of `app.cli`, which may import both sides.
"""
