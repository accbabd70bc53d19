import django_filters

from apps.core.filters import StrictFilterSet
from apps.jobs.models import Job, JobStatus


class JobFilter(StrictFilterSet):
    """`?status=` must be a known status (an unknown one is a 400, not an empty list)."""

    status = django_filters.ChoiceFilter(choices=JobStatus.choices)
    name = django_filters.CharFilter(help_text="The task name, e.g. `test`.")

    class Meta:
        model = Job
        fields = ["status", "name"]
