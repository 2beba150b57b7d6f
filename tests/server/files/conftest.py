"""Server tests of files, uploads and vector stores: every JSON response is checked against
``files-vector-stores.openapi.yaml`` as well as the Assistants spec (by operation ID)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from tests.server.conftest import ResponseChecker
from tests.server.openapi_check import REPO, SpecValidator, _list_erratum, _nullable, load_validator

FILES_LISTS = ("ListFilesResponse", "ListVectorStoresResponse", "ListVectorStoreFilesResponse")


def files_spec_path() -> Path:
    return REPO.parent / "shared" / "openapi" / "files-vector-stores.openapi.yaml"


class CombinedValidator(SpecValidator):
    """The files spec for its operations, the Assistants spec for the rest."""

    def __init__(self, document: dict[str, object], assistants: SpecValidator | None) -> None:
        super().__init__(document)
        self.assistants = assistants
        self.own = super().operations()

    def errors(self, operation_id: str, status: int, body: object) -> list[str]:
        if operation_id in self.own or self.assistants is None:
            return super().errors(operation_id, status, body)
        return self.assistants.errors(operation_id, status, body)


def _load() -> CombinedValidator | None:
    path = files_spec_path()
    if not path.is_file():
        return None
    document = _nullable(copy.deepcopy(yaml.safe_load(path.read_text(encoding="utf-8"))))
    for name in FILES_LISTS:
        _list_erratum(document["components"]["schemas"][name])
    return CombinedValidator(document, load_validator())


_FILES_VALIDATOR = _load()


@pytest.fixture
def files_spec() -> CombinedValidator:
    if _FILES_VALIDATOR is None:
        pytest.skip(f"the files/vector stores OpenAPI description is not at {files_spec_path()}")
    return _FILES_VALIDATOR


@pytest.fixture(autouse=True)
def response_checker(files_spec: CombinedValidator) -> ResponseChecker:
    return ResponseChecker(files_spec)
