import time

from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "apps.health"
    label = "health"

    def ready(self) -> None:
        from apps.health import probes

        probes.STARTED_AT = time.monotonic()
