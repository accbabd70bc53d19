"""Health and info (docs/api.md, "Health"). Health answers outside the envelope, is never
throttled and needs no credentials, so load balancers and orchestrators can read it as is."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.health import probes
from apps.health.serializers import (
    HealthSerializer,
    InfoSerializer,
    LiveSerializer,
    ReadySerializer,
)


class HealthBaseView(APIView):
    """Health is read by machines: no credentials, no throttle, no envelope."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes: list[Any] = []
    envelope = False


class HealthView(HealthBaseView):
    @extend_schema(
        tags=["health"],
        responses={200: HealthSerializer, 503: HealthSerializer},
        summary="Liveness and the state of every dependency",
    )
    def get(self, request: Request) -> Response:
        services = probes.run_probes(
            {
                "database": probes.database_ok,
                "redis": probes.redis_ok,
                "task_queue": probes.task_queue_ok,
            }
        )
        if services["database"] != "connected":
            status = "unhealthy"
        elif "disconnected" in services.values():
            status = "degraded"
        else:
            status = "healthy"
        body = {
            "status": status,
            **services,
            "services": services,
            "version": settings.API_VERSION,
            "uptime": probes.uptime_seconds(),
        }
        return Response(body, status=503 if status == "unhealthy" else 200)


class LiveView(HealthBaseView):
    """Orchestrators and load balancers ask this many times a second: a GET is answered
    before DRF's request handling (negotiation, authentication, permissions), which would
    cost more than the answer; other methods take the usual way."""

    _ALIVE = b'{"status":"alive"}'

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "GET":
            return HttpResponse(self._ALIVE, content_type="application/json")
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(tags=["health"], responses={200: LiveSerializer}, summary="The process is up")
    def get(self, request: Request) -> Response:
        return Response({"status": "alive"})


class ReadyView(HealthBaseView):
    @extend_schema(
        tags=["health"],
        responses={200: ReadySerializer, 503: ReadySerializer},
        summary="Ready when the database answers",
    )
    def get(self, request: Request) -> Response:
        database = probes.run_probes({"database": probes.database_ok})["database"]
        ready = database == "connected"
        return Response(
            {"status": "ready" if ready else "not_ready", "database": database},
            status=200 if ready else 503,
        )


class InfoView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["info"], responses={200: InfoSerializer}, summary="API version and features"
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "api_version": settings.API_VERSION,
                "features_enabled": settings.FEATURES_ENABLED,
                "environment": settings.ENVIRONMENT,
            }
        )
