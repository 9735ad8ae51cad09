"""A small OpenLineage HTTP receiver for tests: it listens on 127.0.0.1 and
validates every event it is sent against the OpenLineage 2-0-2 JSON schema
and, for every facet in it, the facet schema its `_schemaURL` names. The
schemas are the spec files of the OpenLineage repository, kept under
`tests/openlineage_spec/` (see its README); nothing is fetched at test time.
A facet whose schema is not there is an error, not a pass."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
from referencing import Registry, Resource

SPEC = Path(__file__).parent / "openlineage_spec"
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def spec_registry() -> Registry:
    resources = []
    for path in [SPEC / "OpenLineage.json", *sorted((SPEC / "facets").glob("*.json"))]:
        doc = json.loads(path.read_text())
        resources.append((doc["$id"], Resource.from_contents(doc)))
    return Registry().with_resources(resources)


class EventValidator:
    def __init__(self) -> None:
        self.registry = spec_registry()
        self.known = {uri for uri in self.registry}

    def _errors(self, ref: str, instance) -> list[str]:
        checker = jsonschema.Draft202012Validator(
            {"$ref": ref}, registry=self.registry, format_checker=jsonschema.FormatChecker()
        )
        return [f"{'/'.join(map(str, e.absolute_path)) or '.'}: {e.message}" for e in checker.iter_errors(instance)]

    def errors(self, event: dict) -> list[str]:
        """Every way the event breaks the run-event schema or a facet schema."""
        found = self._errors(RUN_EVENT, event)
        for where, facet in _facets(event):
            url = facet.get("_schemaURL", "") if isinstance(facet, dict) else ""
            if url.partition("#")[0] not in self.known:
                found.append(f"{where}: no schema for {url!r} in tests/openlineage_spec")
                continue
            found += [f"{where}/{e}" for e in self._errors(url, facet)]
        return found


def _facets(event: dict):
    for name, facet in (event.get("run", {}).get("facets") or {}).items():
        yield f"run/facets/{name}", facet
    for name, facet in (event.get("job", {}).get("facets") or {}).items():
        yield f"job/facets/{name}", facet
    for side in ("inputs", "outputs"):
        for i, dataset in enumerate(event.get(side) or []):
            for group in ("facets", "inputFacets", "outputFacets"):
                for name, facet in (dataset.get(group) or {}).items():
                    yield f"{side}/{i}/{group}/{name}", facet


class Receiver(ThreadingHTTPServer):
    """POST /api/v1/lineage: 201 for a valid event, 400 (with the errors) otherwise."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.validator = EventValidator()
        self.events: list[dict] = []
        self.rejected: list[tuple[dict, list[str]]] = []
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.paths.append(self.path)
        try:
            event = json.loads(body)
            problems = self.server.validator.errors(event)
        except ValueError as exc:
            event, problems = {}, [f"not JSON: {exc}"]
        if self.path != "/api/v1/lineage":
            problems.append(f"posted to {self.path}")
        (self.server.rejected.append((event, problems)) if problems else self.server.events.append(event))
        self.send_response(400 if problems else 201)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"errors": problems}).encode())

    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass


def start_receiver() -> tuple[Receiver, threading.Thread]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
