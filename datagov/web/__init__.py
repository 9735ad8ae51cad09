"""The review desk: `datagov serve`, a web catalog over the same library the
CLI uses. Pages are rendered on the server (Jinja2, autoescaped; no
JavaScript), every page has its JSON twin under /api (the documents
`--json` prints, described by OpenAPI at /api/openapi.json), and who may
do what is decided as on the CLI: by the token the server printed on the
DuckDB file, by the database role the user signed in as on PostgreSQL."""
