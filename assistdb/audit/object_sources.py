"""Reading API object bodies out of an archive, an export, or files of raw API objects.

Whatever the source, the result is the same: the latest body of every live assistant, thread,
message, run and step, each kind in creation order (ties keep the source's order), which is
what loading them somewhere else (``assistdb restore``) needs. An archive or export is verified
first, and refused if its chains do not verify, unless the caller accepts that.

Raw objects are what exporters that kept the API's responses produce: a ``.jsonl`` file with one
object per line, a ``.json`` file with one object, a list of them, or a list page
(``{"object": "list", "data": [...]}``), or a folder of such files (read recursively, in name
order). When one ID appears more than once, the last body read wins, at the first one's place.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistdb.errors import InvalidInputError, NotFoundError, VerificationError
from assistdb.store import Store
from assistdb.store.objects import API_OBJECT_OF_TYPE, ObjectType

Obj = dict[str, Any]

#: Restore order: parents before children.
KINDS: tuple[ObjectType, ...] = ("assistant", "thread", "message", "run", "run_step")
API_KINDS = {API_OBJECT_OF_TYPE[kind]: kind for kind in KINDS}


@dataclass
class SourceObjects:
    """The bodies read from a source, and what was passed over."""

    description: str
    by_kind: dict[ObjectType, list[Obj]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    skipped: int = 0  # other kinds of objects, deletion markers, tombstones
    verified: bool = False

    def bodies(self) -> Iterator[Obj]:
        for kind in KINDS:
            yield from self.by_kind[kind]

    @property
    def count(self) -> int:
        return sum(len(bodies) for bodies in self.by_kind.values())


def read_objects(source: str, *, allow_unverified: bool = False) -> SourceObjects:
    """The objects of ``source``: a database URL, an ``audit export`` file, or raw objects."""
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
        return _from_store(store, store.database.display_url, allow_unverified=allow_unverified)
    finally:
        store.close()


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
    """An export is imported into a scratch archive (which verifies it) and read from there;
    accepted unverified, its version rows are read directly, the last version of each object."""
    from assistdb.audit.importing import import_archive

    with tempfile.TemporaryDirectory(prefix="assistdb-restore-") as scratch:
        store = Store(f"sqlite:///{Path(scratch) / 'archive.sqlite3'}")
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
            store.close()
            return _export_versions(path)
        try:
            return _from_store(store, str(path), allow_unverified=allow_unverified)
        finally:
            store.close()


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
        object_id = body.get("id") if body is not None else None
        if body is None or kind is None or not isinstance(object_id, str) or body.get("deleted") is True:
            result.skipped += 1
            continue
        placed = where.get(object_id)
        if placed is not None and placed[0] == kind:
            result.by_kind[kind][placed[1]] = body
            continue
        where[object_id] = (kind, len(result.by_kind[kind]))
        result.by_kind[kind].append(body)
