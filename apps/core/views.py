"""Views of the plumbing itself: the `/api/` catch-all and the API's root."""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.envelope import error_envelope
from apps.core.middleware import NOT_FOUND_MESSAGE

AUTH_ACTIONS = ("register", "login", "refresh", "logout")


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any unknown path under `/api/`, any method: the 404 envelope, in DEBUG too. A plain
    view, so the browsable API's breadcrumbs do not list it."""
    return JsonResponse(error_envelope("NOT_FOUND", NOT_FOUND_MESSAGE), status=404)


class ApiRootView(APIView):
    """The entry point of the API: where each resource lives. Browsers see it as the root of
    the browsable API."""

    permission_classes = [AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        def link(path: str) -> str:
            return request.build_absolute_uri(f"/api/v1/{path}")

        return Response(
            {
                "info": link("info"),
                "auth": {name: link(f"auth/{name}") for name in AUTH_ACTIONS},
                "users": {"me": link("users/me"), "search": link("users/search")},
                "memories": link("memories"),
                "jobs": link("jobs"),
                "schema": link("openapi.json"),
                "docs": request.build_absolute_uri("/docs"),
            }
        )
