"""The `datagov` command line: thin Typer sub-apps over the library.

Modules here import only typer at load time; each command imports the
library (and so DuckDB, torch, ...) when it runs, keeping `--help` fast.
"""
