from typing import Any

from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer

# What API clients send: answered with JSON without parsing the query string or the header.
_ANY_OR_JSON = frozenset(("", "*/*", "application/json"))


class JSONFallbackNegotiation(DefaultContentNegotiation):
    """JSON for any client that asks for something we do not speak, instead of a 406/404."""

    def select_renderer(
        self, request: Any, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        first = renderers[0]
        if (
            first.media_type == "application/json"
            and format_suffix is None
            and request.META.get("HTTP_ACCEPT", "") in _ANY_OR_JSON
            and "format=" not in request.META.get("QUERY_STRING", "")
        ):
            # DRF's own answer for these, reached without its parsing (every API call).
            return first, first.media_type
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except (NotAcceptable, Http404):
            return renderers[0], renderers[0].media_type
