"""pg_trgm for people search on PostgreSQL (a trusted extension: the database owner may create it);
other databases search by substring and need nothing."""

from django.db import migrations


def create_trigram_extension(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_user_message_policy")]

    operations = [migrations.RunPython(create_trigram_extension, migrations.RunPython.noop)]
