"""`manage.py dlt_templates`: the DLT texts of every SMS, and the registry file kept in step.

manage.py dlt_templates            # print every text to register (kind, language, text)
manage.py dlt_templates --check    # exit 1 naming each text the registry file lacks, and
                                   # each SMS whose longest values DLT would not take
manage.py dlt_templates --write    # rewrite the file: ids kept for unchanged texts
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from notifications import dlt


class Command(BaseCommand):
    help = "Print the SMS texts to register on DLT, or check/regenerate DLT_TEMPLATES_FILE."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true")
        parser.add_argument("--write", action="store_true")
        parser.add_argument("--file", help="another registry file than DLT_TEMPLATES_FILE")

    def handle(self, *args, check=False, write=False, file=None, **options):
        path = Path(file) if file else dlt.registry_path()
        if (check or write) and path is None:
            raise CommandError("Set DLT_TEMPLATES_FILE (or pass --file).")
        data = dlt.read_registry_file(path) if path and path.exists() else {}
        if write:
            fresh = dlt.registry_regenerated(data)
            path.write_text(json.dumps(fresh, ensure_ascii=False, indent=2) + "\n", "utf-8")
            unregistered = sum(1 for t in fresh["templates"] if not t["template_id"])
            self.stdout.write(
                f"{path}: {len(fresh['templates'])} texts, {unregistered} without a template id"
            )
            return
        if check:
            problems = dlt.registry_differences(data)
            for problem in problems:
                self.stdout.write(problem)
            too_long = dlt.length_problems()
            for problem in too_long:
                self.stdout.write(problem)
            if problems:
                raise CommandError(
                    f"{path} is not in step with the SMS templates: "
                    "run manage.py dlt_templates --write, then register the new texts."
                )
            if too_long:
                raise CommandError(
                    f"An SMS carries a variable over {dlt.DLT_VAR_MAX} characters, which DLT "
                    "refuses: split it in the template or shorten what it shows."
                )
            self.stdout.write(
                f"{path}: in step with the SMS templates; every variable within "
                f"{dlt.DLT_VAR_MAX} characters"
            )
            return
        for (kind, language), texts in dlt.all_dlt_texts().items():
            for text in texts:
                self.stdout.write(f"{kind}\t{language}\t{text}")
