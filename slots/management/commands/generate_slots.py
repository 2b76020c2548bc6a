from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from slots.services.slot_generation import slots_generate


class Command(BaseCommand):
    help = "Create slots from weekly sessions for the next N days (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=settings.SLOT_GENERATION_DAYS,
            help="How many days from today (default: SLOT_GENERATION_DAYS).",
        )

    def handle(self, *args, days, **options):
        if days < 1 or days > 400:
            raise CommandError("--days must be between 1 and 400.")
        result = slots_generate(days=days)
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.created} slots created, {result.updated} updated, "
                f"{result.retired} retired, {result.deleted} removed."
            )
        )
