"""Views that lose the database, to see what applicants and API clients get (a 503)."""

from django.db import InterfaceError, OperationalError
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from rto_booking.urls import handler500  # noqa: F401 (the site's own 500 page, as in production)


def page_without_database(request):
    raise OperationalError('connection to server at "127.0.0.1", port 5432 failed')


class ApiWithoutDatabase(APIView):
    authentication_classes = []
    permission_classes = []

    def get(self, request):
        raise InterfaceError("connection already closed")

    def post(self, request):
        return Response({"never": "reached"})


class ApiWithBrokenCode(APIView):
    authentication_classes = []
    permission_classes = []

    def get(self, request):
        raise RuntimeError("secret internal detail")


urlpatterns = [
    path("lost-db/", page_without_database),
    path("api/v1/lost-db/", ApiWithoutDatabase.as_view()),
    path("api/v1/broken/", ApiWithBrokenCode.as_view()),
    path("", include("rto_booking.urls")),
]
