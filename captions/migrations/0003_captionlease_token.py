from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("captions", "0002_caption_lease"),
    ]

    operations = [
        migrations.AddField(
            model_name="captionlease",
            name="token",
            field=models.PositiveBigIntegerField(default=0),
        ),
    ]
