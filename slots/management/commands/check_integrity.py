import sys

from django.core.management.base import BaseCommand

from slots.integrity import CHECKS, integrity_violations


class Command(BaseCommand):
    help = "Check DESIGN.md's invariants; exit 0 only when every one holds."

    def handle(self, *args, **options):
        failed = integrity_violations()
        for name, _check in CHECKS:
            if name in failed:
                self.stdout.write(self.style.ERROR(f"FAIL  {name}"))
                for line in failed[name]:
                    self.stdout.write(f"      {line}")
            else:
                self.stdout.write(self.style.SUCCESS(f"ok    {name}"))
        if failed:
            self.stderr.write(f"{len(failed)} invariant(s) violated.")
            sys.exit(1)
