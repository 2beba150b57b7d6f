"""Ctrl-C inside a database call reaches the user as Ctrl-C, and leaves the archive usable."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from assistdb.store import Store
from assistdb.store.database import translate_errors
from tests import factories


def test_ctrl_c_during_a_statement_is_raised_as_ctrl_c_and_the_archive_stays_usable(
    database_url: str,
) -> None:
    store = Store(database_url)
    slow = "SELECT pg_sleep(5)" if store.database.dialect == "postgresql" else None
    if slow is None:
        pytest.skip("SQLite statements finish before Python sees a signal")
    interrupter = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    interrupter.start()
    try:
        with pytest.raises(KeyboardInterrupt), store.database.write() as connection:
            connection.execute(text(slow))
    finally:
        interrupter.join()
    store.record([factories.message("msg_after")])
    assert len(store.reader.history("msg_after")) == 1
    store.close()


def test_a_driver_error_raised_while_cleaning_up_after_ctrl_c_is_the_ctrl_c(database_url: str) -> None:
    # What psycopg does when Ctrl-C lands in SQLAlchemy's pre-ping: restoring autocommit fails on
    # the half-used connection, and that error would hide the interrupt.
    store = Store(database_url)
    pressed = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt) as raised, translate_errors(store.database):
        try:
            raise pressed
        except KeyboardInterrupt:
            try:
                raise RuntimeError("can't change 'autocommit' now: connection in transaction status ACTIVE")
            except RuntimeError as driver_error:
                raise sa_exc.ProgrammingError("SELECT 1", None, driver_error) from driver_error
    assert raised.value is pressed
    store.close()


def test_driver_errors_without_an_interrupt_behind_them_are_left_alone(database_url: str) -> None:
    store = Store(database_url)
    with pytest.raises(sa_exc.ProgrammingError), translate_errors(store.database):
        raise sa_exc.ProgrammingError("SELECT 1", None, RuntimeError("syntax error"))
    store.close()
