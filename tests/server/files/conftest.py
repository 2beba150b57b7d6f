"""Server tests of files, uploads and vector stores (responses are checked against both specs by
``tests/server/conftest.py``); they skip without the files/vector stores spec."""

from __future__ import annotations

import pytest

from tests.server.openapi_check import files_spec_path


@pytest.fixture(autouse=True)
def _files_spec() -> None:
    if not files_spec_path().is_file():
        pytest.skip(f"the files/vector stores OpenAPI description is not at {files_spec_path()}")
