"""Staff admin for accounts: search by email and names, preferences shown inline."""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.http import HttpRequest

from apps.users.models import Preferences, User, normalize_email


class EmailFormMixin:
    """Emails are stored lower-cased and unique whatever their case, as the API does."""

    cleaned_data: dict[str, Any]
    instance: User

    def clean_email(self) -> str:
        email = normalize_email(self.cleaned_data["email"])
        taken = User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("An account with this email already exists.")
        return email


class UserCreateForm(EmailFormMixin, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(EmailFormMixin, UserChangeForm):
    avatar_url = forms.URLField(max_length=500, required=False, assume_scheme="https")

    class Meta:
        model = User
        fields = "__all__"


class PreferencesInline(admin.StackedInline):
    model = Preferences
    can_delete = False
    extra = 0
    max_num = 1


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreateForm
    inlines = [PreferencesInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name", "avatar_url", "first_name", "last_name")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "display_name", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined", "updated_at")
    list_display = ("email", "display_name", "first_name", "last_name", "is_active", "is_staff")
    list_filter = ("is_active", "is_staff", "is_superuser")
    search_fields = ("email", "display_name", "first_name", "last_name")
    ordering = ("email",)

    def get_inlines(self, request: HttpRequest, obj: User | None) -> list[Any]:
        # On the add page the account does not exist yet; its preferences are created with it.
        return self.inlines if obj is not None else []
