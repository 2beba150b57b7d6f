"""Tamper evidence that holds: a hash chain per run's tool ledger, a scheme on every sealed row
(plain SHA-256 or HMAC), forward-only chain tips, and checkpoints for ``verify --expect``.

Existing ``versions`` rows keep their scheme (``sha256``); existing ``tool_calls`` rows are
chained here, per run in the order they were written, with plain SHA-256.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import context, op
from assistdb.store.chaining import EVENT_COLUMNS
from assistdb.store.hashing import PLAIN_SEALER
from assistdb.store.tool_ledger import ledger_chain, seal_events

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FORWARD_ONLY = "assistdb chain tips only move forward"


def _scheme() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("scheme", sa.String(32), nullable=False, server_default="sha256")


def upgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    _without_append_only("versions")
    with op.batch_alter_table("versions") as batch:
        batch.add_column(_scheme())
    _append_only("versions")

    with op.batch_alter_table("chains") as batch:
        batch.add_column(_scheme())

    _without_append_only("tool_calls")
    with op.batch_alter_table("tool_calls") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("row_hash", sa.String(64), nullable=True))
        batch.add_column(_scheme())
    if not context.is_offline_mode():  # a SQL script is for new databases: no events to chain
        _chain_existing_events()
    with op.batch_alter_table(
        "tool_calls", copy_from=_tool_calls(), recreate="auto" if postgres else "always"
    ) as batch:
        batch.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        batch.alter_column("row_hash", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_tool_calls_run_seq", ["run_id", "seq"])
    _append_only("tool_calls")

    op.create_table(
        "checkpoints",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("recorded_at_us", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
    )
    _append_only("checkpoints")
    _forward_only_tips()


def downgrade() -> None:
    _drop_forward_only_tips()
    _without_append_only("checkpoints")
    op.drop_table("checkpoints")
    op.execute(sa.text("DELETE FROM chains WHERE chain_id LIKE 'ledger:%'"))
    _without_append_only("tool_calls")
    with op.batch_alter_table("tool_calls") as batch:
        batch.drop_constraint("uq_tool_calls_run_seq", type_="unique")
        for column in ("scheme", "row_hash", "prev_hash", "seq"):
            batch.drop_column(column)
    _append_only("tool_calls")
    with op.batch_alter_table("chains") as batch:
        batch.drop_column("scheme")
    _without_append_only("versions")
    with op.batch_alter_table("versions") as batch:
        batch.drop_column("scheme")
    _append_only("versions")


def _tool_calls() -> sa.Table:
    """``tool_calls`` as revision 0001 left it plus this revision's new columns, for the SQLite
    table copy (which then needs no reflection, so that ``alembic upgrade --sql`` works too)."""
    return sa.Table(
        "tool_calls",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("thread_id", sa.String(128), nullable=False),
        sa.Column("function_name", sa.String(128), nullable=False),
        sa.Column("arguments", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("is_error", sa.Boolean(), nullable=False),
        sa.Column("recorded_at_us", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=True),
        sa.Column("row_hash", sa.String(64), nullable=True),
        _scheme(),
        sa.UniqueConstraint("call_id", "attempt", "event", name="uq_tool_calls_event"),
        sa.Index("ix_tool_calls_run_id", "run_id"),
    )


def _chain_existing_events() -> None:
    connection = op.get_bind()
    columns = ", ".join(("id", *EVENT_COLUMNS))
    rows = [
        dict(row._mapping)
        for row in connection.execute(sa.text(f"SELECT {columns} FROM tool_calls ORDER BY id"))
    ]
    tips: dict[str, tuple[int, str]] = {}
    for row in seal_events(rows, PLAIN_SEALER, tips):
        connection.execute(
            sa.text(
                "UPDATE tool_calls SET seq = :seq, prev_hash = :prev_hash, row_hash = :row_hash"
                " WHERE id = :id"
            ),
            {key: row[key] for key in ("seq", "prev_hash", "row_hash", "id")},
        )
    for run_id, (seq, last_hash) in tips.items():
        connection.execute(
            sa.text(
                "INSERT INTO chains (chain_id, last_seq, last_hash, scheme) VALUES (:c, :s, :h, 'sha256')"
            ),
            {"c": ledger_chain(run_id), "s": seq, "h": last_hash},
        )


def _append_only(table: str) -> None:
    """The triggers of revision 0001, for ``table`` (the function they call is 0001's)."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION assistdb_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION assistdb_refuse_change()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} BEGIN "
            f"SELECT RAISE(ABORT, 'assistdb archive is append-only: {action} on {table} refused'); "
            "END"
        )


def _without_append_only(table: str) -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        return
    for action in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")


def _forward_only_tips() -> None:
    """A tip may move to a longer chain; never back, never sideways, never away."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION assistdb_tip_forward() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' OR NEW.chain_id <> OLD.chain_id OR NEW.last_seq < OLD.last_seq
                   OR (NEW.last_seq = OLD.last_seq AND NEW.last_hash <> OLD.last_hash) THEN
                    RAISE EXCEPTION '{FORWARD_ONLY}: % on chain % refused', TG_OP, OLD.chain_id
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                RETURN NEW;
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER chains_forward_only BEFORE UPDATE OR DELETE ON chains "
            "FOR EACH ROW EXECUTE FUNCTION assistdb_tip_forward()"
        )
        op.execute(
            "CREATE TRIGGER chains_no_truncate BEFORE TRUNCATE ON chains "
            "FOR EACH STATEMENT EXECUTE FUNCTION assistdb_refuse_change()"
        )
        return
    op.execute(
        "CREATE TRIGGER chains_forward_only BEFORE UPDATE ON chains WHEN NEW.chain_id <> OLD.chain_id "
        "OR NEW.last_seq < OLD.last_seq OR (NEW.last_seq = OLD.last_seq AND NEW.last_hash <> OLD.last_hash) "
        f"BEGIN SELECT RAISE(ABORT, '{FORWARD_ONLY}: UPDATE on chains refused'); END"
    )
    op.execute(
        "CREATE TRIGGER chains_no_delete BEFORE DELETE ON chains "
        f"BEGIN SELECT RAISE(ABORT, '{FORWARD_ONLY}: DELETE on chains refused'); END"
    )


def _drop_forward_only_tips() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS chains_forward_only ON chains")
        op.execute("DROP TRIGGER IF EXISTS chains_no_truncate ON chains")
        op.execute("DROP FUNCTION IF EXISTS assistdb_tip_forward()")
        return
    op.execute("DROP TRIGGER IF EXISTS chains_forward_only")
    op.execute("DROP TRIGGER IF EXISTS chains_no_delete")
