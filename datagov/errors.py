"""One exception hierarchy. The CLI turns each into one `Error: ...` line and
the exit code below (the contract in DESIGN.md); nothing else prints errors."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CHECK_FAILED = 3
EXIT_GATE_REFUSED = 4


class DatagovError(Exception):
    """Base class; `hint` is a follow-up line telling the user what to do."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class NotAWorkspace(DatagovError):
    """No datagov.toml in the directory, its parents, --workspace or DATAGOV_HOME."""


class InvalidInput(DatagovError):
    """The user's input (a name, a file, an option value) cannot be used."""


class SourceError(InvalidInput):
    """A source cannot be read: missing, empty, malformed, unknown format."""


class NotFound(DatagovError):
    """A named thing (dataset, version, suite, model) does not exist."""


class AmbiguousReference(InvalidInput):
    """A digest prefix matches more than one version."""


class LockTimeout(DatagovError):
    """Another datagov process held the catalog lock for too long."""


class PermissionDenied(DatagovError):
    """The catalog's database refused an action for the connected role
    (a missing grant, a four-eyes rule, an append-only record)."""


class IntegrityError(DatagovError):
    """Stored files no longer match their manifest."""

    exit_code = EXIT_CHECK_FAILED


class CheckFailed(DatagovError):
    """A check ran and found problems (validation, drift, audit, verify)."""

    exit_code = EXIT_CHECK_FAILED


class GateRefused(DatagovError):
    """The gate refused a stage: no passing receipt, no waiver."""

    exit_code = EXIT_GATE_REFUSED


class MissingDependency(DatagovError):
    """An optional package is needed for this feature."""

    def __init__(self, package: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the package '{package}'",
            hint=f"install it with: pip install {package}",
        )


def first_line(error: object, limit: int = 240) -> str:
    """The first line of an error's text (or its type's name), cut at a word
    and marked `…` when longer than `limit`: for one `Error:` line."""
    text = str(error).strip()
    line = text.splitlines()[0].strip() if text else type(error).__name__
    if len(line) <= limit:
        return line
    cut = line[:limit].rsplit(" ", 1)[0]
    return (cut if len(cut) > limit // 2 else line[:limit]) + "…"
