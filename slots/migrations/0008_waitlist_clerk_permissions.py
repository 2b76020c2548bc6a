"""Clerks and supervisors see each office's waiting list and open offers (read-only lists,
scoped to their offices like every admin page: docs/ADMIN.md). Idempotent; only adds."""

from django.db import migrations

PERMISSIONS = [("slots", "view_waitlistentry"), ("slots", "view_offer")]


def grant(apps, schema_editor):
    grant_permissions(apps, PERMISSIONS)


def grant_permissions(apps, permissions):
    """Give the Clerk and Supervisor groups these (app label, codename) permissions (later
    migrations that add clerk-visible models call it too)."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    wanted = [
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
        for app_label, codename in permissions
    ]
    for group in Group.objects.filter(name__in=["Clerk", "Supervisor"]):
        group.permissions.add(*wanted)


class Migration(migrations.Migration):
    dependencies = [("slots", "0007_waitlist_and_offers")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
