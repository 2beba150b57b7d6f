"""Reading API object bodies out of an archive, an export, or files of raw API objects.

Whatever the source, the result is the same: the latest body of every live file, vector store,
vector store file (which file a store holds), assistant, thread, message, run and step, each kind
in creation order (ties keep the source's order), which is what loading them somewhere else
(``assistdb restore``) needs, and the content of each file whose content the archive holds (read
part by part when asked, so the source stays open until the result is closed). An archive or export
is verified first, and refused if its chains do not verify, unless the caller accepts that.

Raw objects are what exporters that kept the API's responses produce: a ``.jsonl`` file with one
object per line, a ``.json`` file with one object, a list of them, or a list page
(``{"object": "list", "data": [...]}``), or a folder of such files (read recursively, in name
order). When one ID appears more than once, the last body read wins, at the first one's place (a
vector store file's ID is its store's and its file's together).
"""

from __future__ import annotations

import builtins
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistdb.errors import InvalidInputError, NotFoundError, VerificationError
from assistdb.store import Store
from assistdb.store.objects import API_OBJECT_OF_TYPE, ObjectType, archive_id

Obj = dict[str, Any]

#: Restore order: what others name (files, stores) first, parents before children.
KINDS: tuple[ObjectType, ...] = (
    "file",
    "vector_store",
    "vs_file",
    "assistant",
    "thread",
    "message",
    "run",
    "run_step",
)
API_KINDS = {API_OBJECT_OF_TYPE[kind]: kind for kind in KINDS}


@dataclass(frozen=True)
class ArchivedContent:
    """A file's content as the source holds it; its parts are read only when iterated."""

    sha256: str
    bytes: int
    read: Callable[[str], Iterator[builtins.bytes]]

    def pieces(self) -> Iterator[builtins.bytes]:
        return self.read(self.sha256)


@dataclass
class SourceObjects:
    """The bodies read from a source, file contents by file ID, and what was passed over.

    Close it (or use it in a ``with``) when done: contents are read from the source on demand.
    """

    description: str
    by_kind: dict[ObjectType, list[Obj]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    skipped: int = 0  # other kinds of objects, deletion markers, tombstones
    verified: bool = False
    contents: dict[str, ArchivedContent] = field(default_factory=dict)
    resources: ExitStack = field(default_factory=ExitStack)

    def bodies(self) -> Iterator[Obj]:
        for kind in KINDS:
            yield from self.by_kind[kind]

    def content(self, file_id: str) -> ArchivedContent | None:
        """The file's content, if the source holds it (raw API objects never do)."""
        return self.contents.get(file_id)

    def close(self) -> None:
        self.resources.close()

    def __enter__(self) -> SourceObjects:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def count(self) -> int:
        return sum(len(bodies) for bodies in self.by_kind.values())


def read_objects(source: str, *, allow_unverified: bool = False) -> SourceObjects:
    """The objects of ``source``: a database URL, an ``audit export`` file, or raw objects
    (close the result when done)."""
    if "://" in source:
        return _from_archive_url(source, allow_unverified=allow_unverified)
    path = Path(source)
    if not path.exists():
        raise NotFoundError(
            f"{source} does not exist", hint="give a database URL, an export file or a folder"
        )
    if path.is_file() and _is_export(path):
        return _from_export(path, allow_unverified=allow_unverified)
    return _from_raw(path)


# archives --------------------------------------------------------------------------------------


def _from_archive_url(url: str, *, allow_unverified: bool) -> SourceObjects:
    store = Store(url)
    try:
        result = _from_store(store, store.database.display_url, allow_unverified=allow_unverified)
    except BaseException:
        store.close()
        raise
    result.resources.callback(store.close)
    return result


def _from_store(store: Store, description: str, *, allow_unverified: bool) -> SourceObjects:
    from assistdb.audit.verify import verify

    report = verify(store)
    if not report.ok and not allow_unverified:
        error = report.error()
        raise VerificationError(
            f"{description} does not verify: {error.message}",
            hint="verify it to see where; pass allow_unverified=True to read it anyway",
            situation="unverified_archive",
        )
    result = SourceObjects(description, verified=report.ok)
    for kind in KINDS:
        result.by_kind[kind] = [version.body for version in store.reader.iter_find(kind)]
    for body in result.by_kind["file"]:
        known = store.contents.hash_of(body["id"])
        if known is not None and known.archived:
            result.contents[body["id"]] = ArchivedContent(known.sha256, known.bytes, store.contents.pieces)
    return result


def _is_export(path: Path) -> bool:
    with path.open("rb") as handle:
        first = handle.readline(4096)
    try:
        header = json.loads(first)
    except ValueError:
        return False
    return (
        isinstance(header, dict)
        and header.get("kind") == "header"
        and header.get("format") == "assistdb-archive"
    )


def _from_export(path: Path, *, allow_unverified: bool) -> SourceObjects:
    """An export is imported into a scratch archive (which verifies it) and read from there,
    the scratch kept until the result is closed; accepted unverified, its version rows are read
    directly, the last version of each object, without file contents."""
    from assistdb.audit.importing import import_archive

    with ExitStack() as scratch:
        folder = scratch.enter_context(tempfile.TemporaryDirectory(prefix="assistdb-restore-"))
        store = Store(f"sqlite:///{Path(folder) / 'archive.sqlite3'}")
        scratch.callback(store.close)
        try:
            with path.open(encoding="utf-8") as handle:
                import_archive(store, handle)
        except VerificationError as exc:
            if not allow_unverified:
                raise VerificationError(
                    f"{path} does not verify: {exc.message}",
                    hint="export the archive again; pass allow_unverified=True to read it anyway",
                    situation="unverified_export",
                ) from None
            return _export_versions(path)
        result = _from_store(store, str(path), allow_unverified=allow_unverified)
        result.resources.push(scratch.pop_all())
        return result


def _export_versions(path: Path) -> SourceObjects:
    latest: dict[str, tuple[int, int, Obj | None, int]] = {}  # id -> (version, first row id, body, created)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                record = json.loads(line)
            except ValueError:
                raise InvalidInputError(
                    f"line {number} of {path} is not JSON", hint="export it again"
                ) from None
            if not isinstance(record, dict) or record.get("kind") != "version":
                continue
            body = None if record.get("tombstone") else json.loads(str(record.get("body")))
            object_id, version = str(record.get("object_id")), int(record.get("version") or 0)
            known = latest.get(object_id)
            if known is None or version > known[0]:
                first = known[1] if known else int(record.get("id") or number)
                created = body.get("created_at", 0) if isinstance(body, dict) else 0
                latest[object_id] = (version, first, body, created if isinstance(created, int) else 0)
    result = SourceObjects(str(path), verified=False)
    ordered = sorted(latest.values(), key=lambda item: (item[3], item[1]))
    _collect(result, (body for _, _, body, _ in ordered))
    return result


# raw API objects -------------------------------------------------------------------------------


def _from_raw(path: Path) -> SourceObjects:
    files = (
        sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl"))
        if path.is_dir()
        else [path]
    )
    if not files:
        raise InvalidInputError(
            f"{path} holds no .json or .jsonl files", hint="point at the exported objects"
        )
    bodies: list[Obj | None] = []
    for file in files:
        bodies.extend(_file_objects(file))
    result = SourceObjects(str(path), verified=False)
    _collect(result, bodies)
    for kind in KINDS:
        result.by_kind[kind].sort(
            key=lambda body: body["created_at"] if isinstance(body.get("created_at"), int) else 0
        )
    return result


def _file_objects(file: Path) -> list[Obj | None]:
    text = file.read_text(encoding="utf-8")
    try:
        return _unwrap(json.loads(text))
    except ValueError:
        pass
    found: list[Obj | None] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            found.extend(_unwrap(json.loads(line)))
        except ValueError:
            raise InvalidInputError(
                f"line {number} of {file} is not JSON", hint="give one API object per line, or one per file"
            ) from None
    return found


def _unwrap(value: object) -> list[Obj | None]:
    if isinstance(value, list):
        return [item for element in value for item in _unwrap(element)]
    if isinstance(value, dict) and value.get("object") == "list" and isinstance(value.get("data"), list):
        return _unwrap(value["data"])
    return [value] if isinstance(value, dict) else [None]


def _collect(result: SourceObjects, bodies: Iterable[Obj | None]) -> None:
    """Sort bodies into kinds; a later body of the same ID replaces the earlier one in place."""
    where: dict[str, tuple[ObjectType, int]] = {}
    for body in bodies:
        kind = API_KINDS.get(str(body.get("object"))) if body is not None else None
        object_id = archive_id(body) if body is not None else None
        if body is None or kind is None or not isinstance(object_id, str) or body.get("deleted") is True:
            result.skipped += 1
            continue
        placed = where.get(object_id)
        if placed is not None and placed[0] == kind:
            result.by_kind[kind][placed[1]] = body
            continue
        where[object_id] = (kind, len(result.by_kind[kind]))
        result.by_kind[kind].append(body)
