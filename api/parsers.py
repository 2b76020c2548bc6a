"""The API's JSON parser: DRF's, with the two inputs it would answer 500 to turned into 4xx.

- A body over API_MAX_BODY_BYTES (default: Django's DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB) is
  refused with 413 `too_large` before it is read; DRF reads the request stream itself, so
  Django's own limit never sees it.
- JSON nested deeper than Python's recursion limit raises RecursionError inside `json`; it is
  a body we cannot read, 400 `invalid`.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, parsers, status


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = _("The request body is too large.")


def max_body_bytes() -> int:
    limit = getattr(settings, "API_MAX_BODY_BYTES", None)
    return int(limit or settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440)


class BoundedJSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = max_body_bytes()
        if request is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > limit:
                raise BodyTooLarge()
        # A body sent without (or with a false) Content-Length is read at most one byte past
        # the limit: never more than that into memory.
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise BodyTooLarge()
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(_("The JSON is nested too deeply.")) from None
