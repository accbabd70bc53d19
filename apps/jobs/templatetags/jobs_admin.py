"""`{% jobs_summary %}`: the engine at a glance, on the admin index (templates/admin/index.html)."""

from typing import Any

from django import template

from apps.jobs.selectors import engine_summary

register = template.Library()


@register.inclusion_tag("admin/jobs_summary.html", takes_context=True)
def jobs_summary(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("jobs.view_job"):
        return {"summary": None}
    return {"summary": engine_summary()}


@register.filter
def age(value: Any) -> str:
    """A timedelta as "3 h 12 min", "4 min 5 s" or "12 s"."""
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
