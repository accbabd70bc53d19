from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_delete, post_save


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from apps.core.authentication import forget_cached_user

        for signal in (post_save, post_delete):
            signal.connect(
                forget_cached_user,
                sender=settings.AUTH_USER_MODEL,
                dispatch_uid=f"core.forget_cached_user.{signal is post_save}",
            )
