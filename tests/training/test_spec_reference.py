"""docs/pipeline-spec.md is the loader's own schema, complete and current."""

from datagov.training.spec import SPEC_CLASSES
from datagov.training.spec_reference import DOCS, keys, render_reference
from tests.conftest import REPO


def test_every_spec_key_is_described_and_nothing_else():
    paths = {path for cls in SPEC_CLASSES.values() for path, _, _ in keys(cls)}
    assert paths == set(DOCS)


def test_the_reference_in_docs_is_current():
    written = (REPO / "docs" / "pipeline-spec.md").read_text()
    assert written == render_reference(), (
        "regenerate: python -m datagov.training.spec_reference > docs/pipeline-spec.md"
    )
