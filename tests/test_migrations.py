"""The Alembic migrations build exactly the schema the models describe (both databases)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hawiya.registry.models import Base


def test_migrations_match_models(platform):
    with platform.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
