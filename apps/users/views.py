"""Auth endpoints (register, login, refresh, logout), the users API (docs/api.md, "Accounts"),
and the session logins of the browsable API and the admin."""

import functools
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from django.db.models import QuerySet
from django.forms.forms import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.fields import NOT_ONLY_WHITESPACE
from apps.core.pagination import EnvelopePagination
from apps.core.throttles import AnonRateThrottle, RegisterRateThrottle, login_refusal
from apps.users import selectors, services
from apps.users.models import User
from apps.users.serializers import (
    AuthResultSerializer,
    LoginSerializer,
    PreferencesSerializer,
    PublicUserSerializer,
    RefreshTokenSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserSearchParamsSerializer,
    UserSerializer,
    UserUpdateSerializer,
)


def _validated(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _auth_result(user: User, pair: services.TokenPair) -> dict[str, Any]:
    services.preferences_get_or_create(user=user)
    return {"user": UserSerializer(user).data, **asdict(pair)}


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(
        response={"$ref": "#/components/schemas/ErrorEnvelope"}, description=description
    )


class PublicAuthView(APIView):
    # No credentials are read here: a stale token must not stop a client from logging in.
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]


class RegisterView(PublicAuthView):
    throttle_classes = [AnonRateThrottle, RegisterRateThrottle]
    error_codes = (409,)

    @extend_schema(
        tags=["auth"],
        request=RegisterSerializer,
        responses={
            201: AuthResultSerializer,
            409: _error("An account with this email already exists (`CONFLICT`)"),
        },
        summary="Create an account and log in",
    )
    def post(self, request: Request) -> Response:
        data = _validated(RegisterSerializer, request.data)
        user, pair = services.auth_register(**data)
        return Response(_auth_result(user, pair), status=201)


class LoginView(PublicAuthView):
    # The login limits are counted where the password is checked (apps/users/backends.py).
    throttle_classes = [AnonRateThrottle]
    error_codes = (401,)

    @extend_schema(
        tags=["auth"],
        request=LoginSerializer,
        responses={
            200: AuthResultSerializer,
            401: _error("Wrong email or password, or an inactive account (`INVALID_CREDENTIALS`)"),
        },
        summary="Exchange email and password for tokens",
    )
    def post(self, request: Request) -> Response:
        data = _validated(LoginSerializer, request.data)
        user, pair = services.auth_login(request=request._request, **data)
        return Response(_auth_result(user, pair))


class RefreshView(PublicAuthView):
    throttle_classes = [AnonRateThrottle]
    error_codes = (401,)

    @extend_schema(
        tags=["auth"],
        request=RefreshTokenSerializer,
        responses={
            200: TokenPairSerializer,
            401: _error(
                "The refresh token is invalid, expired, not a refresh token, already used or "
                "revoked, or its account is inactive (`INVALID_TOKEN`)"
            ),
        },
        summary="Exchange a refresh token for a new pair; the old one stops working",
    )
    def post(self, request: Request) -> Response:
        data = _validated(RefreshTokenSerializer, request.data)
        pair = services.auth_refresh(refresh_token=data["refresh_token"])
        return Response(asdict(pair))


class LogoutView(APIView):
    @extend_schema(
        tags=["auth"],
        request=RefreshTokenSerializer,
        responses={204: None},
        summary="Revoke a refresh token",
    )
    def post(self, request: Request) -> Response:
        data = _validated(RefreshTokenSerializer, request.data)
        services.auth_logout(user=request.user, refresh_token=data["refresh_token"])
        return Response(status=204)


class MeView(APIView):
    http_method_names = ["get", "patch", "head", "options"]

    @extend_schema(tags=["users"], responses={200: UserSerializer}, summary="My profile")
    def get(self, request: Request) -> Response:
        services.preferences_get_or_create(user=request.user)
        return Response(UserSerializer(request.user).data)

    @extend_schema(
        tags=["users"],
        request=UserUpdateSerializer,
        responses={200: UserSerializer},
        summary="Change my profile",
    )
    def patch(self, request: Request) -> Response:
        data = _validated(UserUpdateSerializer, request.data)
        user = services.user_update(user=request.user, data=data)
        services.preferences_get_or_create(user=user)
        return Response(UserSerializer(user).data)


class PreferencesView(APIView):
    http_method_names = ["get", "patch", "head", "options"]

    @extend_schema(tags=["users"], responses={200: PreferencesSerializer}, summary="My preferences")
    def get(self, request: Request) -> Response:
        preferences = services.preferences_get_or_create(user=request.user)
        return Response(PreferencesSerializer(preferences).data)

    @extend_schema(
        tags=["users"],
        request=PreferencesSerializer,
        responses={200: PreferencesSerializer},
        summary="Change my preferences",
    )
    def patch(self, request: Request) -> Response:
        serializer = PreferencesSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        preferences = services.preferences_update(user=request.user, data=serializer.validated_data)
        return Response(PreferencesSerializer(preferences).data)


class UserSearchPagination(EnvelopePagination):
    default_page_size = 10
    max_page_size = 50


class UserSearchView(generics.ListAPIView):
    serializer_class = PublicUserSerializer
    pagination_class = UserSearchPagination

    def get_queryset(self) -> QuerySet[User]:
        if getattr(self, "swagger_fake_view", False):
            return User.objects.none()
        params = _validated(UserSearchParamsSerializer, self.request.query_params)
        return selectors.user_search(user=self.request.user, query=params["q"])

    @extend_schema(
        tags=["users"],
        parameters=[
            OpenApiParameter(
                "q",
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 100,
                    "pattern": NOT_ONLY_WHITESPACE,
                },
                required=True,
                description=(
                    "Text to find (1-100 characters), in any case: part of a display, first "
                    "or last name, or a whole email address (never part of one)."
                ),
            )
        ],
        summary="Find active users by name, or by their whole email address",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


def rate_limited_session_login(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A session login page (the browsable API's, the admin's) whose attempts refused by the
    login limits (apps/users/backends.py) answer 429, or 503 when the limits cannot be
    counted, with the form and the reason instead of the form's "wrong password" message:
    never a redirect into the site."""

    @functools.wraps(view)
    def login(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        refusal = login_refusal(request)
        if refusal is None:
            return response
        form = (getattr(response, "context_data", None) or {}).get("form")
        if form is not None:
            form.errors[NON_FIELD_ERRORS] = form.error_class(
                [refusal.message], error_class="nonfield", renderer=form.renderer
            )
        response.status_code = refusal.status
        if refusal.wait is not None:
            response["Retry-After"] = str(refusal.wait)
        return response

    return login
