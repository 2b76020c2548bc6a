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

DLT lets each `{#var#}` hold at most 30 characters (`DLT_VAR_MAX`): an operator's scrubber
delivers a message only when its fixed text matches and its variable parts fit. `length_problems`
renders every SMS kind, in both languages and every branch, with the longest realistic values
(the longest office and service names of the catalogue, every standard outage reason and a
long typed one, the longest reference) and names each text no template takes with variables of
at most 30 characters; `manage.py dlt_templates --check` and the tests fail on any.
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

from notifications import rendering
from notifications.models import Notification
from notifications.sealing import seal

LANGUAGES = ("en", "hi")
# The flags the SMS templates branch on (notifications.rendering.template_context): each
# branch is a text of its own (a partial outage "runs at reduced capacity").
FLAGS = ("false_alarm", "has_outage", "partial", "waitlisted")
# The most characters DLT takes in one `{#var#}` (a `{#url#}` is a link, not counted here);
# defined beside the SMS rendering, which splits the reason by it.
DLT_VAR_MAX = rendering.DLT_VAR_MAX
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


def bounded_pattern_for(text: str) -> re.Pattern:
    """`pattern_for` as an operator's scrubber applies it: each `{#var#}` 1 to DLT_VAR_MAX
    characters. A text matches when some split of its variable parts fits."""
    parts = re.split(r"(\{#var#\}|\{#url#\})", text)
    regex = "".join(
        r"(https?://\S+)"
        if part == URL
        else f"(.{{1,{DLT_VAR_MAX}}})"
        if part == VAR
        else re.escape(part)
        for part in parts
    )
    return re.compile(regex, re.DOTALL)


def length_problem(kind: str, language: str, text: str) -> str | None:
    """None when a DLT text of `kind` in `language` takes the rendered SMS `text` with every
    variable within DLT_VAR_MAX characters; else what is wrong."""
    texts = dlt_texts(kind, language)
    if any(bounded_pattern_for(t).fullmatch(text) for t in texts):
        return None
    for template in texts:
        found = pattern_for(template).fullmatch(text)
        if found:
            too_long = [
                v for v in found.groups() if len(v) > DLT_VAR_MAX and not v.startswith("http")
            ]
            return (
                f"{kind}/{language}: a variable over {DLT_VAR_MAX} characters "
                f"({', '.join(repr(v) for v in too_long) or 'no split fits'}): {text}"
            )
    return f"{kind}/{language}: matches no DLT text: {text}"


@dataclass(frozen=True)
class LongestValues:
    """The longest values an SMS realistically carries, per language."""

    offices: tuple[tuple[str, str], ...]  # (English, Hindi)
    services: tuple[tuple[str, str], ...]
    reasons: tuple[tuple[str, str], ...]
    reference: str
    site_url: str


# Who knows how long the names an SMS carries get: the app that owns offices, services and
# outage reasons registers it when it is ready (slots.apps), so the outbox imports no app
# above it (as rto_booking.metrics takes the apps' database metrics).
_longest_values_source = None


def longest_values_source_set(source) -> None:
    """`source()` -> LongestValues: the longest office, service and reason names."""
    global _longest_values_source
    _longest_values_source = source


def longest_values() -> LongestValues:
    if _longest_values_source is None:
        raise RuntimeError("No app registered the SMS's longest values (slots.apps does).")
    return _longest_values_source()


# Days of the longest month names, with a two-digit day (hours are two-digit below): 30
# September in English, 30 October (अक्टूबर) in Hindi (rto_booking.formats).
LONGEST_MONTH_DAYS = ("2026-09-30", "2026-10-30")


def _longest_contexts(values: LongestValues):
    """JSON contexts as slots.messages writes them, with the longest values, every branch."""
    for office, service, reason, day in itertools.product(
        values.offices, values.services, values.reasons, LONGEST_MONTH_DAYS
    ):
        for false_alarm, partial, waitlisted in itertools.product((False, True), repeat=3):
            yield {
                "reference": values.reference,
                "full_name": "Applicant",
                "office": {"code": "MP-99", "name": office[0], "name_hi": office[1]},
                "service": {"slug": "learner-test", "name": service[0], "name_hi": service[1]},
                "slot": {
                    "starts_at": f"{day}T10:30:00+05:30",
                    "ends_at": f"{day}T11:00:00+05:30",
                },
                "from_starts_at": f"{day[:8]}28T16:30:00+05:30",
                "to_starts_at": f"{day}T10:30:00+05:30",
                "outage": {
                    "id": 99999,
                    "reason": reason[0],
                    "reason_hi": reason[1],
                    "capacity_percent": 50 if partial else 0,
                },
                "links": {
                    "booking": f"{values.site_url}/my/bookings/{values.reference}/",
                    # The reminder's short links (slots.links.reminder_link_url).
                    "cancel": f"{values.site_url}/no/{values.reference}Xq1aZ9b8C7d6",
                    "confirm": f"{values.site_url}/yes/{values.reference}Xq1aZ9b8C7d6",
                    # A waiting-list offer's signed one-tap link (slots.links.offer_url).
                    "offer": f"{values.site_url}/my/offers/9999999:1w2bQx:"
                    "Xq1aZ9b8C7d6E5f4G3h2I1j0KlMnOpQrStUvWxYz/",
                },
                # The last call: when an unconfirmed booking is released.
                "release_at": f"{day}T08:30:00+05:30",
                "expires_at": f"{day[:8]}28T16:30:00+05:30",
                "false_alarm": false_alarm,
                # A ballot drawn without a seat: on the day's waiting list, or not.
                "waitlisted": waitlisted,
                # Account messages (no booking): a one-time code, a 10-digit application
                # number (applicants.services.application_number_new).
                "code_sealed": seal("987654"),
                "minutes": 30,
                "application_number": "2612345678",
            }


def length_problems(values: LongestValues | None = None) -> list[str]:
    """Every SMS kind in both languages, rendered with the longest values: the texts whose
    variables DLT would not take (empty: every variable fits in DLT_VAR_MAX)."""
    values = values or longest_values()
    problems: list[str] = []
    for context in _longest_contexts(values):
        for kind in Notification.Kind.values:
            for language in LANGUAGES:
                text = rendering.render_notification(
                    kind=kind, channel=Notification.Channel.SMS, language=language, context=context
                ).body
                problem = length_problem(kind, language, text)
                if problem and problem not in problems:
                    problems.append(problem)
    return problems
