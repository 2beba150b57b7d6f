"""Moving archived threads to the Conversations API: plan, journal, migrate, verify."""

from assistdb.migration.migrate import Migrator, ThreadOutcome
from assistdb.migration.planning import Plan, plan_thread

__all__ = ["Migrator", "Plan", "ThreadOutcome", "plan_thread"]
