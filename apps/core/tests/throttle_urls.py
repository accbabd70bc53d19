"""A view throttled like the job-creation endpoint, to exercise `JobsRateThrottle`."""

from typing import Any

from django.urls import include, path, re_path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.throttles import AnonRateThrottle, JobsRateThrottle, UserRateThrottle


class CreateJob(APIView):
    throttle_classes = [AnonRateThrottle, UserRateThrottle, JobsRateThrottle]

    def post(self, request: Request) -> Response:
        return Response({"job_id": "x", "status": "queued"}, status=202)


urlpatterns: list[Any] = [
    re_path(r"^api/v1/test/jobs/?$", CreateJob.as_view()),
    path("", include("tanka.urls")),
]
