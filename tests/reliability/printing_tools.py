"""Tools that write on stdout every way a tool can, for ``--tools tests.reliability.printing_tools``:
the module prints when imported, and ``chatty`` prints from Python, writes to file descriptor 1,
and starts a subprocess that inherits stdout, before it returns its result."""

from __future__ import annotations

import os
import subprocess
import sys

from assistdb import tool

print("printing_tools imported")  # what the test is about


@tool
def chatty(word: str) -> str:
    """Say a word, noisily.

    Args:
        word: The word.
    """
    print(f"print from chatty: {word}")
    sys.stdout.flush()
    os.write(1, b"fd 1 from chatty\n")
    subprocess.run([sys.executable, "-c", "print('subprocess of chatty')"], check=True)
    return f"said {word}"


@tool
async def chatty_async(word: str) -> str:
    """Say a word, noisily, from a coroutine.

    Args:
        word: The word.
    """
    print(f"print from chatty_async: {word}")
    return f"said {word} asynchronously"
