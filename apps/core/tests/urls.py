"""Views that exist only to exercise the plumbing: a crash, a paginated list, an echo."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import include, path, re_path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.pagination import EnvelopePagination


class Crash(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError("secret-db-password leaked in a traceback")


def django_crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("plain Django view crashed with secret-token")


def django_not_found(request: HttpRequest) -> HttpResponse:
    raise Http404("nothing here, says a plain Django view")


class Numbers(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        paginator = EnvelopePagination()
        page = paginator.paginate_queryset(list(range(1, 46)), request, view=self)
        return paginator.get_paginated_response(page)


class EchoInput(serializers.Serializer):
    name = serializers.CharField(max_length=10)
    tags = serializers.ListField(child=serializers.CharField(max_length=3), required=False)
    meta = serializers.DictField(child=serializers.IntegerField(), required=False)


class Echo(APIView):
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        data = EchoInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(data.validated_data, status=201)

    def delete(self, request: Request) -> Response:
        return Response(status=204)


class Private(APIView):
    def get(self, request: Request) -> Response:
        return Response({"secret": True})


urlpatterns: list[Any] = [
    re_path(r"^api/v1/test/crash/?$", Crash.as_view()),
    re_path(r"^api/v1/test/django-crash/?$", django_crash),
    re_path(r"^api/v1/test/django-not-found/?$", django_not_found),
    re_path(r"^test/django-crash/?$", django_crash),
    re_path(r"^api/v1/test/numbers/?$", Numbers.as_view()),
    re_path(r"^api/v1/test/echo/?$", Echo.as_view()),
    re_path(r"^api/v1/test/private/?$", Private.as_view()),
    path("", include("tanka.urls")),
]
