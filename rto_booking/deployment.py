"""The build steps a deployment must have run, checked when a web process starts.

README.md, "Production", lists the steps: `migrate`, `collectstatic` and compiling the Hindi
translations. A web process started without the last two would answer pages without styles (or,
with Django's manifest storage, a 500 for every page that names a static file) and in English
only. So `rto_booking.wsgi` refuses to start and says which step is missing, and the storage
below serves a file missing from the manifest under its plain name instead of failing the page.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from whitenoise.storage import CompressedManifestStaticFilesStorage

logger = logging.getLogger(__name__)


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """whitenoise's compressed, hashed storage; a name the manifest does not know (a template
    naming a file that was not collected) gets its plain URL and a warning, never a 500."""

    def url(self, name, force=False):
        try:
            return super().url(name, force)
        except ValueError as error:
            logger.warning("Static file %r is not in the manifest: %s", name, error)
            return self.base_url + name.lstrip("/")


def deployment_problems() -> list[str]:
    """What a production web process misses of the README's build steps, as instructions."""
    from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage

    problems = []
    manifest = isinstance(staticfiles_storage, ManifestFilesMixin)
    if manifest and staticfiles_storage.read_manifest() is None:
        problems.append(
            f"Static files were not collected into {settings.STATIC_ROOT}: run "
            "`python manage.py collectstatic --noinput` (README.md, Production)."
        )
    for code, _name in settings.LANGUAGES:
        if code == "en":
            continue
        catalogues = [
            Path(path) / code / "LC_MESSAGES" / "django.mo" for path in settings.LOCALE_PATHS
        ]
        if not any(path.exists() for path in catalogues):
            problems.append(
                f"The {code} translations are not compiled ({catalogues[0]} is missing): run "
                "`python scripts/compile_messages.py` (README.md, Production)."
            )
    return problems


def check_deployment_steps() -> None:
    """Stop a production web process at start when a build step is missing (see above)."""
    if settings.DEBUG:
        return
    problems = deployment_problems()
    if problems:
        raise ImproperlyConfigured("This deployment is not ready: " + " ".join(problems))
