"""Writers in several processes append to one chain without duplicates and without breaking it."""

from __future__ import annotations

import multiprocessing

import pytest
from sqlalchemy import func, select

from assistdb.audit.verify import verify
from assistdb.store import Store
from assistdb.store.archive import VERSIONS
from tests import factories


def _write_pages(url: str, worker: int, pages: int) -> None:
    store = Store(url)
    for page in range(pages):
        # Every worker writes the same objects, and one of its own per page.
        shared = [factories.message(f"msg_shared_{page}_{i}") for i in range(20)]
        own = factories.message(f"msg_w{worker}_{page}")
        store.record([*shared, own])
    store.close()


@pytest.mark.parametrize("workers", [4])
def test_concurrent_writers_store_each_version_once_and_the_chain_verifies(
    database_url: str, workers: int
) -> None:
    store = Store(database_url)
    store.record([factories.thread()])
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write_pages, args=(database_url, w, 10)) for w in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0] * workers

    with store.database.read() as connection:
        total = connection.execute(select(func.count()).select_from(VERSIONS)).scalar_one()
        distinct = connection.execute(select(func.count(func.distinct(VERSIONS.c.object_id)))).scalar_one()
    assert total == distinct == 1 + 10 * 20 + workers * 10
    assert verify(store).ok
    store.close()
