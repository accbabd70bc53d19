from django.urls import re_path
from rest_framework.routers import SimpleRouter

from apps.jobs.views import JobTestView, JobViewSet

router = SimpleRouter()
# DRF turns any trailing_slash argument into "/"; the attribute takes the optional slash.
router.trailing_slash = "/?"
router.register("jobs", JobViewSet, basename="job")

urlpatterns = [
    re_path(r"^jobs/test/?$", JobTestView.as_view(), name="job-test"),
    *router.urls,
]
