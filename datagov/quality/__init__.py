"""Quality checks: GX suites, DuckDB profiles, validation, receipts."""
