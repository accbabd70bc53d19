"""Routes. Every pattern accepts an optional trailing slash (`/?$`), so no path redirects."""

from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from apps.core.views import ApiRootView, api_not_found
from apps.health import views as health
from apps.jobs.metrics import metrics_view
from apps.users.views import rate_limited_session_login

# The docs and the schema are never throttled and read no credentials (a stale token in
# Swagger UI must not hide the schema).
DOCS = {"throttle_classes": [], "authentication_classes": []}

# The admin is the operators' console (templates/admin/base_site.html adds the environment
# badge and the links to the docs and the queues); "View site" opens the browsable API.
admin.site.site_header = admin.site.site_title = "Tanka console"
admin.site.index_title = "Operations"
admin.site.site_url = "/api/v1/"

api_v1 = [
    re_path(r"^openapi\.json/?$", SpectacularJSONAPIView.as_view(**DOCS), name="schema"),
    re_path(r"^info/?$", health.InfoView.as_view(), name="info"),
    path("", include("apps.users.urls")),
    path("", include("apps.jobs.urls")),
    path("", include("apps.memories.urls")),
    path("", include("apps.events.urls")),
]

urlpatterns = [
    re_path(r"^health/?$", health.HealthView.as_view(), name="health"),
    re_path(r"^health/live/?$", health.LiveView.as_view(), name="health-live"),
    re_path(r"^health/ready/?$", health.ReadyView.as_view(), name="health-ready"),
    re_path(r"^metrics/?$", metrics_view, name="metrics"),
    re_path(
        r"^docs/?$",
        SpectacularSwaggerView.as_view(
            url_name="schema", title="Tanka Core API · Swagger UI", **DOCS
        ),
        name="docs",
    ),
    re_path(
        r"^redoc/?$",
        SpectacularRedocView.as_view(url_name="schema", title="Tanka Core API · ReDoc", **DOCS),
        name="redoc",
    ),
    re_path(r"^api/v1/?$", ApiRootView.as_view(), name="api-root"),
    path("api/v1/", include(api_v1)),
    re_path(r"^api/[\s\S]*$", api_not_found),  # [\s\S]: paths may hold newlines
    # The session logins, ahead of the routes that include them, with the login limits'
    # refusals answered as such.
    re_path(
        r"^api-auth/login/?$",
        rate_limited_session_login(LoginView.as_view(template_name="rest_framework/login.html")),
    ),
    path("api-auth/", include("rest_framework.urls")),
    re_path(r"^admin/login/?$", rate_limited_session_login(admin.site.login)),
    re_path(r"^admin$", RedirectView.as_view(url="/admin/", permanent=True)),
    path("admin/", admin.site.urls),
]
