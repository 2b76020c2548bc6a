"""One error shape for everything under /api/: {"code", "detail", "fields"?}.

`api_exception_handler` is DRF's EXCEPTION_HANDLER. It maps DRF exceptions, Django's Http404,
PermissionDenied and ValidationError, and the domain errors of `slots.errors` (which carry their
own code and status) to the shape; anything else is logged and answered 500 without a traceback.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from slots.errors import BookingError

logger = logging.getLogger("api")

NON_FIELD = "non_field_errors"


class InvalidCredentials(exceptions.APIException):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "invalid_credentials"
    default_detail = "The application number and date of birth do not match."


class ErrorSerializer(serializers.Serializer):
    """The error body of every non-2xx answer under /api/."""

    code = serializers.CharField(help_text="Machine-readable code, e.g. `slot_full`.")
    detail = serializers.CharField(help_text="A human sentence.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field messages; only for validation errors (code `invalid`).",
    )


def _clean(text) -> str:
    """Messages may quote the input: keep a lone surrogate from breaking the UTF-8 answer."""
    return str(text).encode("utf-8", "replace").decode("utf-8")


def error_body(code: str, detail, fields: dict | None = None) -> dict:
    body = {"code": code, "detail": _clean(detail)}
    if fields is not None:
        body["fields"] = {
            _clean(field): [_clean(message) for message in messages]
            for field, messages in fields.items()
        }
    return body


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field": ["message"]}; nested fields become "a.0.b"."""
    if isinstance(detail, dict):
        result: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in _flatten(value, name).items():
                result.setdefault(field, []).extend(messages)
        return result
    if isinstance(detail, list | tuple):
        if all(not isinstance(item, dict | list | tuple) for item in detail):
            return {prefix or NON_FIELD: [str(item) for item in detail]}
        result = {}
        for index, item in enumerate(detail):
            if item in ({}, []):
                continue
            name = f"{prefix}.{index}" if prefix else str(index)
            for field, messages in _flatten(item, name).items():
                result.setdefault(field, []).extend(messages)
        return result
    return {prefix or NON_FIELD: [str(detail)]}


def _first_message(fields: dict[str, list[str]]) -> str:
    for messages in fields.values():
        if messages:
            return messages[0]
    return _("The request is invalid.")


def _validation_response(fields: dict[str, list[str]]) -> Response:
    detail = _first_message(fields)
    return Response(error_body("invalid", detail, fields), status=status.HTTP_400_BAD_REQUEST)


def django_validation_fields(error: DjangoValidationError, field: str = NON_FIELD) -> dict:
    if hasattr(error, "error_dict"):
        return {key: [str(m) for m in messages] for key, messages in error}
    return {field: [str(m) for m in error.messages]}


_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ParseError: "invalid",
    exceptions.Throttled: "throttled",
}


def api_exception_handler(exc, context):
    if isinstance(exc, (OperationalError, InterfaceError)):
        # A lost database: re-raised by DRF, answered 503 by
        # rto_booking.middleware.DatabaseUnavailableMiddleware (a busy lock already became
        # BookingError "busy" in the services).
        return None
    if isinstance(exc, BookingError):
        fields = None
        if exc.fields:
            fields = {key: [str(m) for m in value] for key, value in exc.fields.items()}
        elif exc.code == "invalid":
            fields = {NON_FIELD: [str(exc.message)]}
        set_rollback()
        return Response(error_body(exc.code, exc.message, fields), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        set_rollback()
        return _validation_response(django_validation_fields(exc))
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("too_large", _("The request body is too large.")),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        return _validation_response(_flatten(exc.detail))

    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), None)
        if code is None:
            code = exc.default_code if isinstance(exc.default_code, str) else "error"
        if isinstance(exc, InvalidCredentials):
            code = "invalid_credentials"
        detail = exc.detail
        if isinstance(detail, list | dict):
            detail = _first_message(_flatten(detail))
        fields = {NON_FIELD: [str(detail)]} if code == "invalid" else None  # e.g. a ParseError
        set_rollback()
        return Response(error_body(code, detail, fields), status=exc.status_code, headers=headers)

    view = context.get("view")
    logger.exception(
        "Unexpected error in %s", type(view).__name__ if view else "API view", exc_info=exc
    )
    set_rollback()
    return Response(
        error_body("server_error", _("Something went wrong on our side. Please try again.")),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
