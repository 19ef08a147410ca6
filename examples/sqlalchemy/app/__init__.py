"""An application's database layer on basemodel: SQLAlchemy models whose base
columns (id, created_at, updated_at) the database keeps, and their Alembic
migrations."""
