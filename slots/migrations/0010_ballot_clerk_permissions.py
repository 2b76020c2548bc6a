"""Clerks and supervisors see each office's ballot requests (a read-only list, scoped to their
offices like every admin page: docs/ADMIN.md). Idempotent; only adds."""

import importlib

from django.db import migrations

PERMISSIONS = [("slots", "view_ballotentry")]


def grant(apps, schema_editor):
    earlier = importlib.import_module("slots.migrations.0008_waitlist_clerk_permissions")
    earlier.grant_permissions(apps, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("slots", "0009_ballot")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
