"""The jobs API (docs/api.md, "Jobs"; docs/jobs.md): the caller's jobs only, never cached."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.throttles import AnonRateThrottle, JobsRateThrottle, UserRateThrottle
from apps.jobs import selectors, services
from apps.jobs.filters import JobFilter
from apps.jobs.models import Job, JobStatus
from apps.jobs.serializers import JobAcceptedSerializer, JobSerializer, JobTestInputSerializer

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


class JobTestView(APIView):
    """Start the test job. Throttled on its own scope (`RATE_LIMIT_JOBS_PER_MINUTE`)."""

    throttle_classes = [AnonRateThrottle, UserRateThrottle, JobsRateThrottle]
    error_codes = (503,)

    @extend_schema(
        tags=["jobs"],
        request=JobTestInputSerializer,
        responses={202: JobAcceptedSerializer},
        summary="Enqueue a test job",
        description=(
            "Sleeps `duration` seconds while reporting progress, then returns `payload` as its "
            "result; with `fail` it raises on every try, is retried twice 1 s apart and ends "
            "`failed` with 3 attempts. With `delay` it is `scheduled` until then. Answers 429 "
            "when the caller already has `JOBS_MAX_ACTIVE_PER_USER` jobs waiting or running, "
            "503 when the task queue is down."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = JobTestInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = services.job_test_start(owner=request.user, **serializer.validated_data)
        accepted = "scheduled" if job.status == JobStatus.SCHEDULED else "queued"
        # JobAcceptedSerializer's shape (the schema's): two plain values need no serializer.
        return Response({"job_id": str(job.id), "status": accepted}, status=202)


@extend_schema_view(
    list=extend_schema(tags=["jobs"], summary="The caller's jobs, newest first"),
    retrieve=extend_schema(tags=["jobs"], summary="One job of the caller"),
)
class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = JobSerializer
    filterset_class = JobFilter
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self) -> QuerySet[Job]:
        return selectors.job_list(user=self.request.user)

    @property
    def error_codes(self) -> tuple[int, ...]:
        return (409,) if getattr(self, "action", None) in ("cancel", "retry") else ()

    @extend_schema(
        tags=["jobs"],
        request=None,
        responses={200: JobSerializer, 202: JobSerializer},
        summary="Cancel a job that has not ended",
        description=(
            "A `scheduled` or `pending` job leaves its queue and is `cancelled` (200). A "
            "`running` job is asked to stop (202, still `running` with `cancel_requested`); "
            "it is `cancelled` within seconds and its worker goes on with the next job. A "
            "finished job is a 409."
        ),
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        job = services.job_cancel(job=self.get_object())
        stopping = job.status == JobStatus.RUNNING
        return Response(JobSerializer(job).data, status=202 if stopping else 200)

    @extend_schema(
        tags=["jobs"],
        request=None,
        responses={200: JobSerializer},
        summary="Retry a failed job",
        description=(
            "The job is `pending` again and queued, with its task's retries renewed; its "
            "attempts go on counting. Any state other than `failed` is a 409; the per-user "
            "cap of active jobs and `RATE_LIMIT_JOBS_PER_MINUTE` are a 429; a task queue "
            "that is down is a 503."
        ),
    )
    @action(
        detail=True,
        methods=["post"],
        throttle_classes=[AnonRateThrottle, UserRateThrottle, JobsRateThrottle],
    )
    def retry(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        job = services.job_retry(job=self.get_object(), capped=True)
        return Response(JobSerializer(job).data)
