"""Input validation and output shapes of the auth and users endpoints."""

import re
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.fields import StrictBooleanField, StrictCharField
from apps.users.models import Preferences, User, normalize_email

# Long passphrases are welcome; megabyte ones only cost hashing time.
PASSWORD_MAX_LENGTH = 1024
TOKEN_MAX_LENGTH = 4096


class LanguageField(serializers.ChoiceField):
    """A tag from the LANGUAGES setting, in any case; the configured spelling is stored
    (`pt-br` -> `pt-BR`). The schema lists the configured tags."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[tag for tag, _ in settings.LANGUAGES], **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str):
            tags = {tag.lower(): tag for tag in self.choices}
            if data.lower() in tags:
                return tags[data.lower()]
        raise serializers.ValidationError(
            f'"{data}" is not a supported language. Choose one of: {", ".join(self.choices)}.'
        )


# An http(s) URL with a dotted host name, in printable ASCII. The server checks exactly this
# pattern, so the schema and the server cannot disagree on what is an acceptable URL.
AVATAR_URL_PATTERN = (
    r"^https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}(:[0-9]{1,5})?([/?#][!-~]*)?$"
)
AVATAR_URL_MAX_LENGTH = 500
# Stored as "" when unset, which is not a URL: the schema says "a URL or empty".
AVATAR_URL_SCHEMA = {
    "type": "string",
    "maxLength": AVATAR_URL_MAX_LENGTH,
    "anyOf": [{"pattern": AVATAR_URL_PATTERN}, {"enum": [""]}],
    "description": "An http(s) URL, or empty when none is set.",
}


@extend_schema_field(AVATAR_URL_SCHEMA)
class AvatarURLField(serializers.Field):
    """An http(s) URL, or empty to clear it. A plain field, so the schema is exactly
    AVATAR_URL_SCHEMA."""

    default_error_messages = {
        "invalid": "Enter an http(s) URL such as https://example.com/me.png, or an empty string.",
        "max_length": f"Ensure this field has no more than {AVATAR_URL_MAX_LENGTH} characters.",
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if len(data) > AVATAR_URL_MAX_LENGTH:
            self.fail("max_length")
        if data and not re.fullmatch(AVATAR_URL_PATTERN, data):
            self.fail("invalid")
        return data

    def to_representation(self, value: str) -> str:
        return value


class PreferencesSerializer(serializers.ModelSerializer):
    theme = serializers.ChoiceField(choices=Preferences.Theme.choices, required=False)
    language = LanguageField(required=False, help_text="A BCP 47 tag from the LANGUAGES setting.")
    email_notifications = StrictBooleanField(required=False)
    push_notifications = StrictBooleanField(required=False)

    class Meta:
        model = Preferences
        fields = ("theme", "language", "email_notifications", "push_notifications", "updated_at")
        read_only_fields = ("updated_at",)


class UserSerializer(serializers.ModelSerializer):
    """The caller's own profile."""

    created_at = serializers.DateTimeField(source="date_joined", read_only=True)
    avatar_url = AvatarURLField(read_only=True)
    preferences = PreferencesSerializer(read_only=True)

    class Meta:
        model = User
        fields = (
            "id",
            "email",
            "display_name",
            "avatar_url",
            "first_name",
            "last_name",
            "created_at",
            "updated_at",
            "preferences",
        )
        read_only_fields = fields


class PublicUserSerializer(serializers.ModelSerializer):
    """What any user may see of another."""

    avatar_url = AvatarURLField(read_only=True)

    class Meta:
        model = User
        fields = ("id", "display_name", "avatar_url", "first_name", "last_name")
        read_only_fields = fields


class UserUpdateSerializer(serializers.Serializer):
    display_name = StrictCharField(max_length=100, allow_blank=True, required=False)
    avatar_url = AvatarURLField(required=False)
    first_name = StrictCharField(max_length=150, allow_blank=True, required=False)
    last_name = StrictCharField(max_length=150, allow_blank=True, required=False)

    # Sent here they would be silently dropped; saying so is kinder to the client.
    FIXED_FIELDS = ("email", "password", "is_staff", "is_superuser", "is_active")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        fixed = [name for name in self.FIXED_FIELDS if name in self.initial_data]
        if fixed:
            raise serializers.ValidationError(
                {name: "This field cannot be changed here." for name in fixed}
            )
        return attrs


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = StrictCharField(
        write_only=True, trim_whitespace=False, max_length=PASSWORD_MAX_LENGTH
    )
    display_name = StrictCharField(max_length=100, required=False, allow_blank=True, default="")

    def validate_email(self, value: str) -> str:
        return normalize_email(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Django's password validators, which also compare the password with the email."""
        candidate = User(email=attrs["email"], display_name=attrs.get("display_name", ""))
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class LoginSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = StrictCharField(
        write_only=True, trim_whitespace=False, max_length=PASSWORD_MAX_LENGTH
    )


class RefreshTokenSerializer(serializers.Serializer):
    refresh_token = StrictCharField(max_length=TOKEN_MAX_LENGTH)


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.ChoiceField(choices=["bearer"])
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")


class AuthResultSerializer(TokenPairSerializer):
    user = UserSerializer()


class UserSearchParamsSerializer(serializers.Serializer):
    q = StrictCharField(
        min_length=1,
        max_length=100,
        help_text="Matched, in any case, against names by substring, or an email as a whole.",
    )
