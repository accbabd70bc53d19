"""Views of the plumbing itself: the `/api/` catch-all and Django's error handlers."""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.core.envelope import error_envelope
from apps.core.middleware import is_api_path


class ApiNotFoundView(APIView):
    """Any unknown path under `/api/`, any method: the 404 envelope, in DEBUG too."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes: list[Any] = []
    schema = None

    def dispatch_not_found(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raise NotFound("No such path.")

    get = post = put = patch = delete = head = options = dispatch_not_found


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request.path):
        return JsonResponse(error_envelope("NOT_FOUND", "No such path."), status=404)
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if is_api_path(request.path):
        return JsonResponse(
            error_envelope("INTERNAL_ERROR", "An internal error occurred."), status=500
        )
    return defaults.server_error(request)
