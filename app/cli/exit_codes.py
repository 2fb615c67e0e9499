"""The exit codes of every `kimi-review` command, one enum for all of them.

A script that runs `kimi-review review --diff` in CI, `doctor` in a deploy
check or `eval` in a benchmark branches on these numbers, so one number means
one thing whatever the command. It lives in its own module (re-exported by
`app.cli`) because the commands import it and `app.cli` imports the commands.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a `kimi-review` command's exit status says."""

    OK = 0
    CHECKS_FAILED = 1  # `doctor`: at least one check failed
    BAD_INPUT = 2  # settings, arguments or input that cannot be used; eval: an invalid case
    REDIS_UNAVAILABLE = 3  # `usage`: Redis did not answer
    MODELS_UNAVAILABLE = 4  # no model could serve (or the budget is spent): retry later
    GITHUB_FAILED = 5  # `review --pr`: GitHub refused or failed a read or the post
