"""*Mark a service down* as a screen reader reads it: its errors are announced, every field and
checkbox group is labelled, and every aria reference points at something on the page."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

pytestmark = pytest.mark.django_db
ADD = "/admin/slots/outage/add/"


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.references: list[tuple[str, str]] = []
        self.labels_for: set[str] = set()
        self.fields: list[dict] = []
        self.alerts: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for name in ("aria-describedby", "aria-labelledby"):
            for target in (attrs.get(name) or "").split():
                self.references.append((name, target))
        if tag == "label" and attrs.get("for"):
            self.labels_for.add(attrs["for"])
        if tag in {"input", "select", "textarea"} and attrs.get("type") not in {
            "hidden",
            "submit",
        }:
            self.fields.append(attrs)
        if attrs.get("role") == "alert":
            self.alerts.append(attrs)


def _parsed(response) -> _Ids:
    html = response.content.decode()
    form = html[html.index('id="mark-down-form"') :]
    parser = _Ids()
    parser.feed(html)
    parser.form_fields = [f for f in parser.fields if f.get("id", "") and f["id"] in form]
    return parser


def test_mark_down_errors_are_announced_and_tied_to_their_fields(bhopal_client, photo_bhopal):
    response = bhopal_client.post(ADD, {"_preview": "1", "reason": ""})
    assert response.status_code == 200
    page = _parsed(response)
    html = response.content.decode()
    assert re.search(r'<p class="errornote" role="alert">', html)
    dangling = [(name, target) for name, target in page.references if target not in page.ids]
    assert not dangling
    for field in page.form_fields:
        assert field["id"] in page.labels_for or "aria-labelledby" in field, field
    # The checkbox groups are named by their label and point at their error.
    assert re.search(
        r'role="group" aria-labelledby="id_offices_label" aria-describedby="[^"]*id_offices_error',
        html,
    )
    assert 'aria-invalid="true"' in html
    assert ("aria-describedby", "id_reason_error") in page.references


def test_mark_down_form_help_texts_exist_where_fields_point(bhopal_client, photo_bhopal):
    page = _parsed(bhopal_client.get(ADD))
    targets = {target for _, target in page.references}
    assert {"id_expected_end_helptext", "id_reason_helptext"} <= targets
    assert targets <= page.ids
