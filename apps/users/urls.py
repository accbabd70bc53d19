"""Routes of the auth and users endpoints, each with an optional trailing slash."""

from django.urls import re_path

from apps.users import views

urlpatterns = [
    re_path(r"^auth/register/?$", views.RegisterView.as_view(), name="auth-register"),
    re_path(r"^auth/login/?$", views.LoginView.as_view(), name="auth-login"),
    re_path(r"^auth/refresh/?$", views.RefreshView.as_view(), name="auth-refresh"),
    re_path(r"^auth/logout/?$", views.LogoutView.as_view(), name="auth-logout"),
    re_path(r"^users/me/?$", views.MeView.as_view(), name="users-me"),
    re_path(r"^users/me/preferences/?$", views.PreferencesView.as_view(), name="users-preferences"),
    re_path(r"^users/search/?$", views.UserSearchView.as_view(), name="users-search"),
]
