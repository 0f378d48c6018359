"""tagpin's Alembic environment (env.py, versions/) and its runner (runner.py), configured in code: no alembic.ini.

A schema change ships as the next file in versions/: revision "000N", down_revision the one before, explicit ops.
Write it by hand or start from Alembic's autogenerate against a database at the previous head; the schema test in
tests/adapters/test_migrations.py then proves the revisions build exactly what the models describe."""
