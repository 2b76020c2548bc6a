"""Office scoping for the clerk admin: a clerk sees and acts on their own offices only.

A clerk is a staff user listed in `Office.clerks` of one or more offices; a superuser sees every
office. The office model is settings.OFFICE_MODEL ("slots.Office"), reached by name, so this
core module depends on no app. Every ModelAdmin of the project mixes in
`OfficeScopedAdminMixin` and names, in `office_lookup`, the path from its model to `Office`:

    office_lookup = "office"            # Booking, Slot, Closure
    office_lookup = "offices"           # Outage (many-to-many)
    office_lookup = "offering__office"  # ExtraSession
    office_lookup = "pk"                # Office itself
    office_lookup = None                # shared catalogue (Service): not scoped

From that one attribute the mixin scopes

* the queryset (change list, change/delete/history pages, actions, date hierarchy, search and
  autocomplete all start from `get_queryset`, so an object of another office is "not found");
* object permissions (`has_change_permission(request, obj)` etc.): acting on an object needs
  *every* office it names to be the clerk's — an outage of Bhopal and Indore is visible to the
  Bhopal clerk but only a clerk of both (or a superuser) may extend, resolve or undo it;
* form choices: a foreign key or many-to-many to a scoped model offers only the rows the
  related model's admin would show (offices, offerings, slots, bookings, applicants...).

Custom admin views call `get_object` (scoped) and then `has_change_permission(request, obj)`.
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import lookup_spawns_duplicates, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404
from django.utils.text import smart_split

from rto_booking.admin_text import ReadableAdminMixin

_CACHE_ATTR = "_clerk_office_ids"


def office_model() -> type[Model]:
    return apps.get_model(settings.OFFICE_MODEL)


def clerk_office_ids(request) -> frozenset[int] | None:
    """Ids of the offices the request's user may act on; None means every office (superuser).

    Cached on the request: one query per request however many querysets are scoped.
    """
    user = request.user
    if user.is_superuser:
        return None
    cached = getattr(request, _CACHE_ATTR, None)
    if cached is None:
        offices = user.offices.values_list("pk", flat=True) if user.is_active else ()
        cached = frozenset(offices)
        setattr(request, _CACHE_ATTR, cached)
    return cached


def clerk_offices(request) -> QuerySet:
    """The offices the request's user may act on, in code order."""
    ids = clerk_office_ids(request)
    offices = office_model()._default_manager.order_by("code")
    return offices if ids is None else offices.filter(pk__in=ids)


def scope_queryset(queryset: QuerySet, office_lookup: str | None, request) -> QuerySet:
    """`queryset` restricted to rows whose `office_lookup` names one of the user's offices."""
    ids = clerk_office_ids(request)
    if ids is None or office_lookup is None:
        return queryset
    key = f"{office_lookup}__in"
    if lookup_spawns_duplicates(queryset.model._meta, office_lookup):
        # Through a many-to-many: a subquery on the primary key keeps each row once without
        # DISTINCT (which would get in the way of the change list's ordering and counts).
        matching = queryset.model._default_manager.filter(**{key: ids}).values("pk")
        return queryset.filter(pk__in=matching)
    return queryset.filter(**{key: ids})


class OfficeListFilter(admin.RelatedFieldListFilter):
    """The office filter of a change list, offering only the user's offices."""

    def field_choices(self, field, request, model_admin):
        ids = clerk_office_ids(request)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ids is None:
            return field.get_choices(include_blank=False, ordering=ordering)
        return field.get_choices(
            include_blank=False, limit_choices_to={"pk__in": ids}, ordering=ordering
        )


class OfficeScopedAdminMixin(ReadableAdminMixin):
    """Scope a ModelAdmin (or inline) to the offices of the signed-in clerk. See module doc."""

    office_lookup: str | None = "office"

    # --- Rows ---------------------------------------------------------------------------------

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), self.office_lookup, request)

    # --- Input the change list cannot use -------------------------------------------------------

    def get_changelist_instance(self, request):
        # A date-hierarchy filter of year 9999 (its "next year" overflows) or another value
        # no date can hold: Django's own answer to a bad filter (the list, "?e=1"), not a 500.
        try:
            return super().get_changelist_instance(request)
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error

    def get_search_results(self, request, queryset, search_term):
        # Each term is one more OR of LIKEs over every search field: 700 terms took 30 s.
        # The first ADMIN_SEARCH_MAX_TERMS terms of at most ADMIN_SEARCH_MAX_CHARS count.
        term = (search_term or "")[: settings.ADMIN_SEARCH_MAX_CHARS]
        terms = list(smart_split(term))[: settings.ADMIN_SEARCH_MAX_TERMS]
        return super().get_search_results(request, queryset, " ".join(terms))

    def object_for_action(self, request, object_id, not_found: str):
        """The object a custom admin view acts on: 404 outside the clerk's scope, 403 without
        the change permission."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(not_found)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def office_ids_of(self, obj) -> set[int]:
        """The offices `obj` names (through `office_lookup`)."""
        if self.office_lookup in (None, "pk"):
            return {obj.pk} if self.office_lookup == "pk" else set()
        rows = (
            type(obj)
            ._default_manager.filter(pk=obj.pk)
            .values_list(self.office_lookup, flat=True)
            .order_by()
        )
        return {pk for pk in rows if pk is not None}

    def is_fully_in_scope(self, request, obj) -> bool:
        """Whether the user may act on `obj`: every office it names is theirs."""
        ids = clerk_office_ids(request)
        if ids is None or self.office_lookup is None or obj is None:
            return True
        offices = self.office_ids_of(obj)
        return bool(offices) and offices <= ids

    def is_visible(self, request, obj) -> bool:
        if obj is None or self.office_lookup is None or clerk_office_ids(request) is None:
            return True
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    # --- Permissions on one object ------------------------------------------------------------

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self._visible(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._actionable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._actionable(request, obj)

    def _visible(self, request, obj) -> bool:
        # Inline admins are asked about the *parent* object: the parent's admin scoped it.
        if isinstance(self, admin.options.InlineModelAdmin):
            return True
        return self.is_visible(request, obj)

    def _actionable(self, request, obj) -> bool:
        if isinstance(self, admin.options.InlineModelAdmin):
            return True
        return self.is_fully_in_scope(request, obj)

    # --- Form choices -------------------------------------------------------------------------

    def scoped_choices(self, request, related_model) -> QuerySet | None:
        """The rows of `related_model` a form may offer, or None when it is not scoped."""
        if related_model is office_model():
            return clerk_offices(request)
        try:
            related_admin = self.admin_site.get_model_admin(related_model)
        except NotRegistered:
            return None
        if isinstance(related_admin, OfficeScopedAdminMixin):
            return scope_queryset(
                related_model._default_manager.all(), related_admin.office_lookup, request
            )
        return None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            choices = self.scoped_choices(request, db_field.related_model)
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            choices = self.scoped_choices(request, db_field.related_model)
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)
