"""Targeted context for a chunk: the head revision's code that explains each hunk.

For every hunk of a chunk this package picks, within a character budget, the
enclosing function and class, the definitions of the names the changed lines
use and the callers of the functions they change, from anywhere in the
repository. Parsing uses tree-sitter grammars shipped in wheels (no network,
nothing written to disk), with a plain-text fallback for other languages.

Everything here is pure given file texts except `sources`, `git_source` and
`archive`, which read a directory, a git revision or a tar stream. It imports
only `worker.diff` (chunk types, masking, credential-file names): never
`worker.review`, `worker.github`, `worker.llm` or `app`.

Entry points: `RepoIndex` (built once per review over a `RepoSource`),
`context_for_chunk` (one chunk's `ContextBlock`) and `render_context` (its
text for the prompt, to be fenced as untrusted data by the caller).
"""

from worker.context.archive import ArchiveSource
from worker.context.git_source import GitRevisionSource
from worker.context.index import IndexLimits, IndexStats, RepoIndex
from worker.context.model import ContextBlock, ContextBudget, Snippet
from worker.context.render import render_context
from worker.context.select import context_for_chunk
from worker.context.sources import DirectorySource, MappingSource, RepoSource, SourceError

__all__ = [
    "ArchiveSource",
    "ContextBlock",
    "ContextBudget",
    "DirectorySource",
    "GitRevisionSource",
    "IndexLimits",
    "IndexStats",
    "MappingSource",
    "RepoIndex",
    "RepoSource",
    "Snippet",
    "SourceError",
    "context_for_chunk",
    "render_context",
]
