"""What a clerk reads in the admin, in the clerk's language.

Django's admin draws a boolean as an icon whose alt text is the Python value ("True", "False",
"None") in every language: a screen reader says "True" on a Hindi page. Every ModelAdmin and
inline of the project (through `OfficeScopedAdminMixin`) shows its boolean fields — change-list
columns and read-only fields of a change page — as the same icons with "Yes" / "No" / "Unknown"
in the active language instead. An editable boolean stays a checkbox.

The English half of a bilingual field (`name` beside `name_hi`, `reason` beside `reason_hi`)
and a slug (a code such as `photo-biometrics`), shown as text, are marked `lang="en"`: English
data on a Hindi page, read as English.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.translation import gettext


def english(text: str) -> str:
    """English data (a reason or a name typed in English) shown on a page of either language:
    marked `lang="en"`, so a screen reader reads it as English on a Hindi page."""
    return format_html('<span lang="en">{}</span>', text) if text else ""


def yes_no_icon(value: bool | None) -> str:
    """The admin's yes/no icon with its alt text translated."""
    icon, alt = {True: ("yes", gettext("Yes")), False: ("no", gettext("No"))}.get(
        value, ("unknown", gettext("Unknown"))
    )
    return format_html('<img src="{}" alt="{}">', static(f"admin/img/icon-{icon}.svg"), alt)


_COLUMNS: dict[tuple[type, str], object] = {}


def _boolean_column(model: type[models.Model], name: str):
    """One callable column per model and boolean field (the same object every request)."""
    key = (model, name)
    if key not in _COLUMNS:
        field = model._meta.get_field(name)

        @admin.display(description=field.verbose_name, ordering=name)
        def column(obj):
            return yes_no_icon(getattr(obj, name))

        column.__name__ = name
        _COLUMNS[key] = column
    return _COLUMNS[key]


def _english_column(model: type[models.Model], name: str):
    """The English twin of a bilingual field (`name` beside `name_hi`), marked lang="en"."""
    key = (model, f"{name}:en")
    if key not in _COLUMNS:
        field = model._meta.get_field(name)

        @admin.display(description=field.verbose_name, ordering=name)
        def column(obj):
            return english(getattr(obj, name))

        column.__name__ = name
        _COLUMNS[key] = column
    return _COLUMNS[key]


def _is_english_twin(model: type[models.Model], name) -> bool:
    """An English text beside its Hindi twin (`name`, `name_hi`), or a slug: a code."""
    if not isinstance(name, str):
        return False
    fields = {field.name: field for field in model._meta.get_fields()}
    return name in fields and (f"{name}_hi" in fields or isinstance(fields[name], models.SlugField))


def _is_boolean_field(model: type[models.Model], name) -> bool:
    if not isinstance(name, str):
        return False
    try:
        return isinstance(model._meta.get_field(name), models.BooleanField)
    except FieldDoesNotExist:  # a method, an admin callable or a lookup through a relation
        return False


class ReadableAdminMixin:
    """Booleans with translated alt texts, English data marked as such (see the module doc)."""

    def _readable(self, names, shown_as_text=lambda name: True):
        def shown(name):
            if not shown_as_text(name):
                return name
            if _is_boolean_field(self.model, name):
                return _boolean_column(self.model, name)
            if _is_english_twin(self.model, name):
                return _english_column(self.model, name)
            return name

        return [shown(name) for name in names]

    def get_list_display(self, request):
        return self._readable(super().get_list_display(request))

    def get_readonly_fields(self, request, obj=None):
        return self._readable(super().get_readonly_fields(request, obj))

    def get_fields(self, request, obj=None):
        # A page the user may only view shows every field read-only (Django takes them from
        # here, not from get_readonly_fields); otherwise only the read-only ones are text.
        readonly = set(super().get_readonly_fields(request, obj))
        view_only = not self.has_change_permission(request, obj)
        return self._readable(
            super().get_fields(request, obj), lambda name: view_only or name in readonly
        )
