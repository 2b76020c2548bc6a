"""docs/API.md is the contract this repository serves: every endpoint it names is in the served
schema (but those it lists as not served yet), and every served endpoint is named there or in
docs/API_NOTES.md's extensions."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs"
ENDPOINT = re.compile(r"`(GET|POST|PATCH|PUT|DELETE) (/api/v1/[^`\s?]*)")


def _endpoints(text: str) -> set[tuple[str, str]]:
    return {(path, method.lower()) for method, path in ENDPOINT.findall(text)}


def _served(api) -> set[tuple[str, str]]:
    schema = api.get("/api/schema/?format=json").json()
    return {
        (path, method)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_docs_api_md_and_the_served_schema_agree(api):
    contract, _, not_yet_text = (DOCS / "API.md").read_text().partition("## Not served yet")
    documented, not_yet = _endpoints(contract), _endpoints(not_yet_text)
    assert len(documented) >= 16 and not_yet <= documented
    served = _served(api)
    assert documented - not_yet - served == set(), "documented but not served"
    assert not_yet & served == set(), "served now: take it off the 'Not served yet' list"
    extensions = _endpoints((DOCS / "API_NOTES.md").read_text())
    assert served - documented - extensions == set(), "served but documented nowhere"
