"""The project's routes plus a page outside the API that crashes, for the 500 page's test."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a page outside the API crashed with secret-token")


urlpatterns: list[Any] = [
    path("test/crash", crash),
    path("", include("tanka.urls")),
]
