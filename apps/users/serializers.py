"""Input validation and output shapes of the auth and users endpoints."""

from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from rest_framework import serializers

from apps.users.models import Preferences, User, normalize_email

# Long passphrases are welcome; megabyte ones only cost hashing time.
PASSWORD_MAX_LENGTH = 1024
TOKEN_MAX_LENGTH = 4096


class PreferencesSerializer(serializers.ModelSerializer):
    theme = serializers.ChoiceField(choices=Preferences.Theme.choices, required=False)
    language = serializers.CharField(
        max_length=35, required=False, help_text="A BCP 47 tag from the LANGUAGES setting."
    )

    class Meta:
        model = Preferences
        fields = ("theme", "language", "email_notifications", "push_notifications", "updated_at")
        read_only_fields = ("updated_at",)

    def validate_language(self, value: str) -> str:
        """Any case is accepted; the configured spelling is stored (`pt-br` -> `pt-BR`)."""
        tags = {tag.lower(): tag for tag, _ in settings.LANGUAGES}
        if value.lower() not in tags:
            raise serializers.ValidationError(
                f'"{value}" is not a supported language. Choose one of: {", ".join(tags.values())}.'
            )
        return tags[value.lower()]


class UserSerializer(serializers.ModelSerializer):
    """The caller's own profile."""

    created_at = serializers.DateTimeField(source="date_joined", read_only=True)
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

    class Meta:
        model = User
        fields = ("id", "display_name", "avatar_url", "first_name", "last_name")
        read_only_fields = fields


class UserUpdateSerializer(serializers.Serializer):
    display_name = serializers.CharField(max_length=100, allow_blank=True, required=False)
    avatar_url = serializers.URLField(
        max_length=500,
        allow_blank=True,
        required=False,
        validators=[URLValidator(schemes=["http", "https"], message="Enter an http(s) URL.")],
    )
    first_name = serializers.CharField(max_length=150, allow_blank=True, required=False)
    last_name = serializers.CharField(max_length=150, allow_blank=True, required=False)

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
    password = serializers.CharField(
        write_only=True, trim_whitespace=False, max_length=PASSWORD_MAX_LENGTH
    )
    display_name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )

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
    password = serializers.CharField(
        write_only=True, trim_whitespace=False, max_length=PASSWORD_MAX_LENGTH
    )


class RefreshTokenSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=TOKEN_MAX_LENGTH)


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.ChoiceField(choices=["bearer"])
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")


class AuthResultSerializer(TokenPairSerializer):
    user = UserSerializer()


class UserSearchParamsSerializer(serializers.Serializer):
    q = serializers.CharField(
        min_length=1,
        max_length=100,
        help_text="Matched, in any case, against email, display name, first and last name.",
    )
