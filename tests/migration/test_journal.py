"""The migration journal: progress read back, and confirmations kept back until written."""

from __future__ import annotations

import pytest

from assistdb.migration import journal as journal_module
from assistdb.migration.journal import Journal
from assistdb.store import Store


def test_progress_counts_attempts_and_finds_the_last_confirmed_item(database_url: str) -> None:
    store = Store(database_url)
    try:
        journal = Journal(store.database, "http://target/v1")
        other = Journal(store.database, "http://elsewhere/v1")
        assert journal.progress("thread_a") == journal_module.Progress(None, 0, None, 0)
        journal.attempt("thread_a")
        journal.attempt("thread_a")
        other.attempt("thread_a")
        assert journal.progress("thread_a") == journal_module.Progress(None, 0, None, 2)
        journal.created("thread_a", "conv_1")
        assert journal.progress("thread_a") == journal_module.Progress("conv_1", 0, None, 2)
        journal.confirm("conv_1", 0, ["item_0", "item_1"])
        journal.flush()
        assert journal.progress("thread_a") == journal_module.Progress("conv_1", 2, "item_1", 2)
        assert other.progress("thread_a") == journal_module.Progress(None, 0, None, 1)
    finally:
        store.close()


def test_confirmations_are_kept_back_until_flushed_or_due(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(database_url)
    try:
        journal = Journal(store.database, "http://target/v1")
        journal.created("thread_a", "conv_1")
        journal.created("thread_b", "conv_2")
        monkeypatch.setattr(journal_module, "WRITE_EVERY", 3600.0)
        journal.confirm("conv_1", 0, ["a0", "a1"])
        journal.confirm("conv_1", 2, ["a2"])
        assert journal.progress("thread_a").confirmed == 0  # kept back
        journal.confirm("conv_2", 0, ["b0"])  # another conversation: the first run is written
        assert journal.progress("thread_a") == journal_module.Progress("conv_1", 3, "a2", 0)
        assert journal.progress("thread_b").confirmed == 0
        journal.confirm("conv_2", 5, ["b5"])  # not consecutive: what was kept back is written
        assert journal.progress("thread_b") == journal_module.Progress("conv_2", 1, "b0", 0)
        monkeypatch.setattr(journal_module, "WRITE_EVERY", 0.0)
        journal.confirm("conv_2", 6, ["b6"])  # due at once
        assert journal.progress("thread_b") == journal_module.Progress("conv_2", 7, "b6", 0)
        journal.flush()  # nothing left: writes nothing
    finally:
        store.close()


def test_start_notes_a_create_only_while_the_thread_has_no_conversation(database_url: str) -> None:
    store = Store(database_url)
    try:
        journal = Journal(store.database, "http://target/v1")
        assert journal.start("thread_a") == journal_module.Progress(None, 0, None, 0)
        assert journal.start("thread_a") == journal_module.Progress(None, 0, None, 1)
        journal.created("thread_a", "conv_1")
        assert journal.start("thread_a") == journal_module.Progress("conv_1", 0, None, 2)
        assert journal.progress("thread_a").attempts == 2  # nothing noted once it has one
    finally:
        store.close()
