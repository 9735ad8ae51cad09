"""Opening the catalog: a file that is not a readable catalog is named, never a traceback."""

import pytest


@pytest.mark.duckdb_file
@pytest.mark.parametrize("content", [b"", b"DUCK", bytes(range(256)) * 20], ids=["empty", "four-bytes", "noise"])
def test_an_unreadable_catalog_is_one_line_naming_it_for_every_command(cli, ws, content):
    assert cli("datasets", "list").exit_code == 0  # the catalog exists
    ws.db_path.write_bytes(content)
    for args in (["datasets", "list"], ["validations", "list"], ["ingest", "sklearn:digits", "--name", "d"]):
        result = cli(*args)
        assert result.exit_code == 1, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert errors == [errors[0]] and f"the catalog {ws.db_path} cannot be read" in errors[0]
        assert "Traceback" not in result.output and f"mv {ws.db_path} {ws.db_path}.broken" in result.stderr
    assert ws.db_path.read_bytes() == content  # nothing "repaired" over it
