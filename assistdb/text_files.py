"""Reading a user's text file for an option (``@FILE``, ``instructions_file``) with a bound.

Kept apart from the modules that use it so that the CLI's option parsing imports nothing heavy.
"""

from __future__ import annotations

from pathlib import Path

from assistdb.errors import InvalidInputError

#: The most ``read_text`` reads by default (``@FILE`` options, ``instructions_file``): over four
#: times the API's 256,000 characters of instructions, even in four-byte UTF-8.
MAX_TEXT_FILE_BYTES = 1024 * 1024


def read_text(path: Path, *, hint: str, limit: int = MAX_TEXT_FILE_BYTES) -> str:
    """A UTF-8 text file's content, or a one-line error saying why it cannot be read.

    At most ``limit`` bytes are read, so that ``@/dev/zero`` or a huge file ends at once."""
    try:
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
    except FileNotFoundError:
        raise InvalidInputError(f"{path} does not exist", hint=hint) from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}", hint=hint) from None
    if len(data) > limit:
        raise InvalidInputError(
            f"{path} is larger than {_size(limit)}", hint=f"{hint}; files are read up to {_size(limit)}"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(f"cannot read {path}: it is not UTF-8 text", hint=hint) from None


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit % (1024 * 1024) == 0 else f"{limit} bytes"
