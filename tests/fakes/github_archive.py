"""The fake GitHub's repository archives: `tarball/{ref}` redirects to a codeload-like URL.

Like GitHub, `GET /repos/{owner}/{repo}/tarball/{ref}` (authenticated) answers
302 to a second URL serving the gzipped tar, whose members sit under one
`owner-repo-sha7/` directory. That second URL refuses any request carrying an
Authorization header (403): the installation token must never follow the
redirect. Every call is recorded like the others (`fake.calls`).
"""

from __future__ import annotations

import io
import tarfile
from typing import TYPE_CHECKING

from tests.fakes.github_http import ApiError, Reply, Request

if TYPE_CHECKING:
    from tests.fakes.github_server import FakeGitHub

CODELOAD_PREFIX = "/_codeload"


def register(fake: FakeGitHub) -> None:
    archives = _Archives(fake)
    fake.add_route("GET", "/repos/{owner}/{repo}/tarball/{ref}", archives.redirect, "repo")
    fake.add_route(
        "GET", CODELOAD_PREFIX + "/{owner}/{repo}/legacy.tar.gz/{sha}", archives.serve, "none"
    )


def tar_gz(prefix: str, tree: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, content in sorted(tree.items()):
            member = tarfile.TarInfo(f"{prefix}/{path}")
            member.size = len(content)
            archive.addfile(member, io.BytesIO(content))
    return buffer.getvalue()


class _Archives:
    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake

    def redirect(self, request: Request) -> Reply:
        repo = self.fake.repos[f"{request.params['owner']}/{request.params['repo']}".lower()]
        sha = repo.resolve(request.params["ref"])
        if sha is None:
            raise ApiError(404, "Not Found")
        target = f"{self.fake.url}{CODELOAD_PREFIX}/{repo.full_name}/legacy.tar.gz/{sha}"
        return Reply(302, None, {"Location": f"{target}?token=signed-url-secret"})

    def serve(self, request: Request) -> Reply:
        if "authorization" in request.headers:
            raise ApiError(403, "an Authorization header reached the archive host")
        repo = self.fake.repos[f"{request.params['owner']}/{request.params['repo']}".lower()]
        sha = request.params["sha"]
        if sha not in repo.commits:
            raise ApiError(404, "Not Found")
        prefix = f"{repo.owner}-{repo.name}-{sha[:7]}"
        body = tar_gz(prefix, repo.commits[sha].tree)
        return Reply(200, body, content_type="application/x-gzip")
