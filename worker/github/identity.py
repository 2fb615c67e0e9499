"""Who the bot is on GitHub: `<slug>[bot]`, from GITHUB_APP_SLUG or learned from `GET /app`.

The poster must tell its own reviews and comments from everyone else's: it
skips a head it already reviewed, edits its sticky summary, and does not
repeat findings it posted. Taking any Bot author for itself (the old
behaviour with GITHUB_APP_SLUG unset) lets another bot, e.g. a workflow of
the pull request commenting as `github-actions[bot]`, forge the bot's
markers: a forged review marker would stop the head from being reviewed.

So a worker learns the slug from `GET /app` with the App's JWT
(https://docs.github.com/rest/apps/apps#get-the-authenticated-app) at
start-up when it is not set. If GitHub cannot answer then, the worker still
starts (a GitHub blip must not stop every worker), and the slug is asked
for again before the first read of the bot's own items: if it still cannot
be had, that review fails like any other GitHub outage and is retried later.
It never falls back to "any bot": a careful operator would rather see a
review wait for GitHub than see it skipped, or someone else's comment
edited, on a forged marker. The receiver still never calls GitHub.
"""

from __future__ import annotations

import asyncio
from typing import Final

import structlog

from worker.github.auth import AppTokenSource
from worker.github.errors import GitHubError

log = structlog.get_logger(__name__)
LEARN_TIMEOUT: Final = 10.0  # seconds the start-up waits for `GET /app`


class BotIdentity:
    """The bot's login: known from the setting, or learned once from GitHub and kept."""

    def __init__(self, slug: str | None, app: AppTokenSource | None) -> None:
        self._login = f"{slug}[bot]" if slug else None
        self._app = app
        self._lock = asyncio.Lock()

    @property
    def known(self) -> str | None:
        """The login if known now (without asking GitHub)."""
        return self._login

    async def learn(self) -> str | None:
        """At start-up: the login, or None (logged) when GitHub cannot say yet.

        Bounded by LEARN_TIMEOUT: an unreachable GitHub must not hold the worker's start.
        """
        try:
            return await asyncio.wait_for(self.login(), LEARN_TIMEOUT)
        except (GitHubError, TimeoutError) as exc:
            error = str(exc) or type(exc).__name__
            log.warning("bot_identity_unknown", error=error, retry="before the first post")
            return None

    async def login(self) -> str | None:
        """The login, asking `GET /app` if needed; None only without an App (a plain token).

        Raises the GitHub error when the App's slug cannot be learned now.
        """
        if self._login is not None or self._app is None:
            return self._login
        async with self._lock:  # many reviews starting at once ask GitHub once
            if self._login is None:
                slug = await self._app.app_slug()
                self._login = f"{slug}[bot]"
                log.info("bot_identity_learned", login=self._login)
        return self._login
