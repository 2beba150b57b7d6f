"""The migration journal: progress read back, and confirmations kept back until written."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from assistdb.migration import journal as journal_module
from assistdb.migration.journal import Journal
from assistdb.store import Store
from assistdb.store.schema import MIGRATION_ITEMS as ITEMS


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


def test_confirmations_are_kept_back_until_the_next_start_a_flush_or_due(
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
        journal.confirm("conv_2", 0, ["b0"])
        assert journal.progress("thread_a").confirmed == 0  # kept back
        assert journal.progress("thread_b").confirmed == 0
        # the next thread's start writes them, in its own transaction
        assert journal.start("thread_c") == journal_module.Progress(None, 0, None, 0)
        assert journal.progress("thread_a") == journal_module.Progress("conv_1", 3, "a2", 0)
        assert journal.progress("thread_b") == journal_module.Progress("conv_2", 1, "b0", 0)
        journal.confirm("conv_2", 1, ["b1"])
        journal.flush()
        assert journal.progress("thread_b") == journal_module.Progress("conv_2", 2, "b1", 0)
        monkeypatch.setattr(journal_module, "WRITE_EVERY", 0.0)
        journal.confirm("conv_2", 2, ["b2"])  # due at once
        assert journal.progress("thread_b") == journal_module.Progress("conv_2", 3, "b2", 0)
        journal.flush()  # nothing left: writes nothing
    finally:
        store.close()


def test_confirm_missing_fills_the_gaps_and_keeps_the_rows_written(database_url: str) -> None:
    """After a create, positions 0-19 have no rows; the verify's listing fills them in, and
    leaves alone the rows already written (a rerun's verify writes nothing new)."""
    store = Store(database_url)
    try:
        journal = Journal(store.database, "http://target/v1")
        journal.created("thread_a", "conv_1")
        journal.confirm("conv_1", 2, ["a2", "a3"])
        journal.flush()
        journal.confirm("conv_1", 4, ["a4"])  # kept back
        journal.confirm_missing("conv_1", ["a0", "a1", "a2", "a3", "a4"])
        journal.flush()
        journal.confirm_missing("conv_1", ["a0", "a1", "a2", "a3", "a4"])
        journal.flush()
        with store.database.read() as connection:
            rows = connection.execute(
                select(ITEMS.c.position, ITEMS.c.item_id).order_by(ITEMS.c.position)
            ).all()
        assert [tuple(row) for row in rows] == [(n, f"a{n}") for n in range(5)]
        assert journal.progress("thread_a") == journal_module.Progress("conv_1", 5, "a4", 0)
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


def test_the_conversation_record_is_written_beside_and_its_failure_reaches_the_caller(
    database_url: str,
) -> None:
    store = Store(database_url)
    try:
        journal = Journal(store.database, "http://target/v1")
        journal.created("thread_a", "conv_1")  # written on a thread of its own
        assert journal.progress("thread_a").conversation_id == "conv_1"  # reads wait for it
        journal.created("thread_a", "conv_2")  # a second record for the thread: the database refuses it
        with pytest.raises(sa_exc.IntegrityError):
            journal.settle()
        journal.settle()  # reported once
        assert journal.progress("thread_a").conversation_id == "conv_1"
    finally:
        store.close()
