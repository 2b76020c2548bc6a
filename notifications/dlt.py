"""DLT: every SMS kind's registered template, derived from the SMS templates themselves.

Indian operators deliver a commercial SMS only when its text matches a template registered on
the DLT platform (TRAI's TCCCPR 2018), under the sender's entity id and header, with each
variable part written `{#var#}` (`{#url#}` for a link). The texts are not typed twice: each
template of templates/notifications/<language>/<kind>.sms.txt is rendered with a marker in every
variable, once for each branch of its `{% if %}`s, and the markers become `{#var#}` / `{#url#}`
(`dlt_texts`). The deployment's registry file (`DLT_TEMPLATES_FILE`, JSON, one per deployment:
entity id, header, and for each text the template id the DLT portal gave it) must hold exactly
those texts: `python manage.py dlt_templates --check` says which differ, and `--write` brings
the file in step, keeping the ids of unchanged texts (a changed text must be registered again:
its id is emptied). A changed SMS template therefore needs only the file regenerated.

At send time `dlt_for(kind, language, text)` finds the registered template the rendered text
matches and gives its ids to the gateway; tests/notifications/test_dlt.py renders every SMS in
both languages and checks each matches its template.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings
from django.template import Context
from django.template.loader import get_template

from notifications.models import Notification

LANGUAGES = ("en", "hi")
# The flags the SMS templates branch on (notifications.rendering.template_context).
FLAGS = ("false_alarm", "has_outage")
VAR, URL = "{#var#}", "{#url#}"
_MARK = "\x00{}\x00"
_MARK_RE = re.compile("\x00([a-z_]+)\x00")


def _variables(source: str) -> list[str]:
    return sorted(set(re.findall(r"{{\s*([a-z_]+)", source)))


def dlt_texts(kind: str, language: str) -> list[str]:
    """The DLT texts of one SMS template: one per distinct branch of its `{% if %}`s."""
    template = get_template(f"notifications/{language}/{kind}.sms.txt").template
    names = _variables(template.source)
    texts: list[str] = []
    for values in itertools.product((False, True), repeat=len(FLAGS)):
        context = {name: _MARK.format(name) for name in names}
        context.update(dict(zip(FLAGS, values, strict=True)))
        rendered = " ".join(template.render(Context(context, autoescape=False)).split())
        text = _MARK_RE.sub(lambda m: URL if m.group(1).endswith("_url") else VAR, rendered)
        if text not in texts:
            texts.append(text)
    return texts


def all_dlt_texts() -> dict[tuple[str, str], list[str]]:
    return {
        (kind, language): dlt_texts(kind, language)
        for kind in Notification.Kind.values
        for language in LANGUAGES
    }


@dataclass(frozen=True)
class DltTemplate:
    kind: str
    language: str
    text: str
    template_id: str
    pattern: re.Pattern


@dataclass(frozen=True)
class DltRegistry:
    entity_id: str
    header: str
    templates: tuple[DltTemplate, ...]

    def find(self, kind: str, language: str, text: str) -> DltTemplate | None:
        for template in self.templates:
            if (
                template.kind == kind
                and template.language == language
                and template.pattern.fullmatch(text)
            ):
                return template
        return None


def pattern_for(text: str) -> re.Pattern:
    """The rendered SMS a DLT text allows: its fixed parts exactly, anything for a variable."""
    parts = re.split(r"(\{#var#\}|\{#url#\})", text)
    regex = "".join(
        r"(https?://\S+)" if part == URL else "(.+?)" if part == VAR else re.escape(part)
        for part in parts
    )
    return re.compile(regex, re.DOTALL)


def registry_path() -> Path | None:
    value = getattr(settings, "DLT_TEMPLATES_FILE", "")
    return Path(value) if value else None


def read_registry_file(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def _load(path: str, mtime: float) -> DltRegistry:
    data = read_registry_file(Path(path))
    return DltRegistry(
        entity_id=str(data.get("entity_id") or ""),
        header=str(data.get("header") or ""),
        templates=tuple(
            DltTemplate(
                kind=item["kind"],
                language=item["language"],
                text=item["text"],
                template_id=str(item.get("template_id") or ""),
                pattern=pattern_for(item["text"]),
            )
            for item in data.get("templates", [])
        ),
    )


def registry() -> DltRegistry | None:
    """The deployment's registry (read once per file version), or None without one."""
    path = registry_path()
    if path is None or not path.exists():
        return None
    return _load(str(path), path.stat().st_mtime)


@dataclass(frozen=True)
class DltIds:
    template_id: str
    entity_id: str
    header: str


def dlt_for(kind: str, language: str, text: str) -> DltIds | None:
    """The registered template this rendered SMS matches (None: no registry, or no match)."""
    current = registry()
    if current is None:
        return None
    template = current.find(kind, language, text)
    if template is None or not template.template_id:
        return None
    return DltIds(template.template_id, current.entity_id, current.header)


def registry_differences(data: dict) -> list[str]:
    """What keeps a registry file from matching the SMS templates (empty: in step)."""
    wanted = {(k, lang, text) for (k, lang), texts in all_dlt_texts().items() for text in texts}
    have = {(t["kind"], t["language"], t["text"]) for t in data.get("templates", [])}
    problems = [f"missing: {k}/{lang}: {text}" for k, lang, text in sorted(wanted - have)]
    problems += [
        f"not a template any more: {k}/{lang}: {t}" for k, lang, t in sorted(have - wanted)
    ]
    return problems


def registry_regenerated(data: dict) -> dict:
    """`data` brought in step with the templates: same entity and header, ids kept for the
    texts that did not change, empty ids for new or changed texts (to register)."""
    ids = {
        (t["kind"], t["language"], t["text"]): t.get("template_id", "")
        for t in data.get("templates", [])
    }
    return {
        "entity_id": data.get("entity_id", ""),
        "header": data.get("header", settings.SMS_GATEWAY_SENDER_ID),
        "templates": [
            {
                "kind": kind,
                "language": language,
                "text": text,
                "template_id": ids.get((kind, language, text), ""),
            }
            for (kind, language), texts in all_dlt_texts().items()
            for text in texts
        ],
    }
