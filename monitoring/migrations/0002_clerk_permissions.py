"""Clerks and supervisors see and confirm their offices' outage proposals (docs/ADMIN.md).

The groups are made by slots 0002; this adds the proposal permissions to them, creating the
permissions first (they would otherwise appear only after every migration has run), like
slots 0002 does. Idempotent; it only ever adds permissions.
"""

from django.db import migrations

PERMISSIONS = [
    ("monitoring", "view_outageproposal"),
    ("monitoring", "change_outageproposal"),  # confirm (fields stay read-only)
]
GROUPS = ["Clerk", "Supervisor"]


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = [
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
        for app_label, codename in PERMISSIONS
    ]
    for name in GROUPS:
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    codenames = [codename for _app, codename in PERMISSIONS]
    for group in Group.objects.filter(name__in=GROUPS):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="monitoring", codename__in=codenames)
        )


class Migration(migrations.Migration):

    dependencies = [
        ("monitoring", "0001_initial"),
        ("slots", "0002_clerk_groups"),
    ]

    operations = [
        migrations.RunPython(grant, revoke),
    ]
