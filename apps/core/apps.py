from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_delete, post_save


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from apps.core.authentication import forget_cached_user

        # Local state's folders (the SQLite file's, collected static files), made when the
        # app starts rather than when settings are imported.
        database = settings.DATABASES["default"]
        if database["ENGINE"] == "django.db.backends.sqlite3":
            Path(database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)

        for signal in (post_save, post_delete):
            signal.connect(
                forget_cached_user,
                sender=settings.AUTH_USER_MODEL,
                dispatch_uid=f"core.forget_cached_user.{signal is post_save}",
            )
