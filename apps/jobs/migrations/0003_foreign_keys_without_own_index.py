import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Only the indexes go: Django's own AlterField would also drop and re-add each foreign key,
# which on PostgreSQL checks every row of the table under a lock that holds off its writes.
DROP = [
    ("jobs_job_owner_id_4c884775", "owner_id"),
    ("jobs_job_schedule_id_cd3d2a46", "schedule_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0002_schedules_and_later"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="job",
                    name="owner",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="jobs",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="job",
                    name="schedule",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="jobs",
                        to="jobs.schedule",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "jobs_job" ("{column}")',
                )
                for name, column in DROP
            ],
        ),
    ]
