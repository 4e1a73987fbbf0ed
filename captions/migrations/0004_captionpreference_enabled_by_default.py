from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("captions", "0003_captionlease_token"),
    ]

    operations = [
        migrations.AlterField(
            model_name="captionpreference",
            name="enabled",
            field=models.BooleanField(default=True),
        ),
    ]
