from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "apps.users"
    label = "users"
    verbose_name = "Users"

    def ready(self) -> None:
        from apps.users import signals  # noqa: F401  (connects the receivers)
