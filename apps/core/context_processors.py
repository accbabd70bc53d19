"""Template context shared by the pages people open in a browser: the admin, the browsable
API and the error pages."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def environment(request: HttpRequest) -> dict[str, Any]:
    """Which deployment this page belongs to, so an operator never mistakes production for a
    test machine (`templates/tanka/environment_badge.html` shows it)."""
    return {"tanka_environment": settings.ENVIRONMENT}
