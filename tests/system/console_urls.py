"""The project's routes plus two that only browser tests need: a way past the login form
(Chromium's command line cannot fill one in) and a page outside the API that crashes."""

import uuid
from typing import Any

from django.contrib.auth import get_user_model, login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import include, path


def login_as(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    login(request, get_user_model().objects.get(pk=pk))
    return redirect(request.GET["next"])


def crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a page outside the API crashed with secret-token")


urlpatterns: list[Any] = [
    path("test/login-as/<uuid:pk>", login_as),
    path("test/crash", crash),
    path("", include("tanka.urls")),
]
