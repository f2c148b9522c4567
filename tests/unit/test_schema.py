"""The models and the Alembic migrations describe the same schema (W: drift)."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from vidjil_pyramid.db.schema import current_revision, head_revision
from vidjil_pyramid.models import metadata


def test_migrations_match_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_database_is_at_head(engine):
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
