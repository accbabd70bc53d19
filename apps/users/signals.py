"""Every account has preferences from the moment it exists, however it was created (the API,
the admin, `createsuperuser`, `issue_token --create`)."""

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from apps.users.models import Preferences, User


@receiver(post_save, sender=User, dispatch_uid="users.create_preferences")
def create_preferences(sender: type[User], instance: User, created: bool, **kwargs: Any) -> None:
    if created and not kwargs.get("raw"):
        Preferences.objects.get_or_create(user=instance)
