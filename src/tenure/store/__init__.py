"""The analytics store (DuckDB) and the operational store (SQLAlchemy)."""
