"""`manage.py issue_token EMAIL [--create] [--password PW]`: print a fresh access token, for
trying the API with curl without going through the login endpoint."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework_simplejwt.tokens import AccessToken

from apps.users.models import User, normalize_email
from apps.users.services import user_create


class Command(BaseCommand):
    help = "Print a fresh access token for an existing user (or a new one with --create)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument(
            "--create", action="store_true", help="Create the user when it does not exist."
        )
        parser.add_argument(
            "--password",
            help="Password for a user made by --create; without it the user can only use "
            "issued tokens.",
        )

    def handle(self, *args: Any, email: str, create: bool, password: str | None, **options: Any):
        email = normalize_email(email)
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            if not create:
                raise CommandError(f"No user with email {email}; pass --create to make one.")
            user = user_create(email=email, password=password)
            self.stderr.write(f"Created user {email}")
        elif not user.is_active:
            raise CommandError(f"User {email} is inactive; tokens for it would be refused.")
        self.stdout.write(str(AccessToken.for_user(user)))
