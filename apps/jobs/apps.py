from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.module_loading import autodiscover_modules


class JobsConfig(AppConfig):
    name = "apps.jobs"
    label = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from apps.jobs import schedules

        # Every app's tasks.py registers its tasks, in the API and in every worker.
        autodiscover_modules("tasks")
        # Schedules declared beside their tasks are kept in step by every migrate.
        post_migrate.connect(schedules.sync_declared, sender=self)
