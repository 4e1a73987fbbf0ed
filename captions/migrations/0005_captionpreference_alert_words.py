from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("captions", "0004_captionpreference_enabled_by_default"),
    ]

    operations = [
        migrations.AddField(
            model_name="captionpreference",
            name="alert_words",
            field=models.CharField(blank=True, max_length=300),
        ),
    ]
