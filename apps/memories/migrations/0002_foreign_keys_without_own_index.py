import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("memories", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Only the index goes (apps/jobs/migrations/0003 says why not Django's AlterField).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="memory",
                    name="owner",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memories",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "memories_memory_owner_id_89003f1d"',
                    reverse_sql=(
                        'CREATE INDEX "memories_memory_owner_id_89003f1d" '
                        'ON "memories_memory" ("owner_id")'
                    ),
                ),
            ],
        ),
    ]
