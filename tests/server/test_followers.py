"""Streams' followers: one registered for a stream whose client left before the response began
(so its generator never ran, and never let go of it) is dropped by the sweeper, and only then."""

from __future__ import annotations

import time

from assistdb.server import run_driver
from assistdb.server.backends.scripted import ScriptedBackend
from assistdb.server.config import ServerConfig
from assistdb.server.run_driver import Runtime
from assistdb.server.storage import open_state


def test_the_sweeper_drops_followers_no_stream_adopted_after_a_minute() -> None:
    config = ServerConfig()
    store = open_state(config)
    try:
        runtime = Runtime(store, config, ScriptedBackend(config, store.new_id))
        orphan = runtime.follow("run_a")
        adopted = runtime.follow("run_a")
        adopted.adopted = True
        young = runtime.follow("run_b")
        orphan.made = adopted.made = time.monotonic() - run_driver.ORPHAN_FOLLOWER_SECONDS - 1

        runtime.sweep()

        assert runtime.waiting_runs() == ["run_a", "run_b"]
        runtime.unfollow("run_a", adopted)
        runtime.unfollow("run_b", young)
        assert runtime.waiting_runs() == []
    finally:
        store.database.dispose()
