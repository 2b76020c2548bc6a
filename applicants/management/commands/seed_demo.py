from django.core.management.base import BaseCommand

from applicants.demo import demo_seed_people
from slots.services.demo import demo_seed


class Command(BaseCommand):
    help = (
        "Create or update the demo MP offices, services, sessions, closures and slots (and, "
        "with DEBUG on, a demo admin, clerk and applicant)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="Slot horizon in days.")

    def handle(self, *args, days=None, **options):
        result = demo_seed(days=days)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {result.created} slots created, {result.updated} updated."
            )
        )
        for line in demo_seed_people():
            self.stdout.write(line)
