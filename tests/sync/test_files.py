"""Which files a thread refers to: every place a message or a thread names one (read from the
archive, on SQLite and PostgreSQL)."""

from __future__ import annotations

from assistdb.store import Store
from assistdb.sync.files import referenced
from tests import factories


def test_every_kind_of_file_reference_is_found_once(database_url: str) -> None:
    store = Store(database_url)
    try:
        thread = factories.thread()
        thread["tool_resources"] = {
            "code_interpreter": {"file_ids": ["file-code"]},
            "file_search": {"vector_store_ids": ["vs_thread"]},
        }
        cited = factories.message("msg_1", role="assistant", assistant_id="asst_1", run_id="run_1")
        cited["content"] = [
            {"type": "image_file", "image_file": {"file_id": "file-image", "detail": "auto"}},
            {
                "type": "text",
                "text": {
                    "value": "see [1] and [2]",
                    "annotations": [
                        {"type": "file_citation", "file_citation": {"file_id": "file-cited"}},
                        {"type": "file_path", "file_path": {"file_id": "file-made"}},
                    ],
                },
            },
        ]
        asked = factories.message("msg_0")
        asked["attachments"] = [{"file_id": "file-cited", "tools": [{"type": "file_search"}]}]
        store.record([thread, asked, cited, factories.run("run_1", assistant_id="asst_1")])

        found = referenced(store, ["thread_a"])

        assert list(found.files) == ["file-code", "file-cited", "file-image", "file-made"]
        assert list(found.stores) == ["vs_thread"]
        assert list(found.assistants) == ["asst_1"]
    finally:
        store.close()
