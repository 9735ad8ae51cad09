"""The DuckDB catalog: connection and locking, migrations, datasets and versions."""
