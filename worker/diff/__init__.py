"""Pure diff math: parse a unified diff, anchor lines, filter, mask secrets, chunk, count tokens.

Everything here is a function of its arguments: no network, no Redis, no
GitHub. It may import only the foundation (`worker.config` and kin) and
itself; `worker.github`, `worker.review` and the rest import it, never the
other way round. A pull request's files come from `worker.github.files`,
a local diff from `diff.local` (text in, files out).
"""
