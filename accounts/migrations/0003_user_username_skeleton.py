from django.db import migrations, models


def fill_skeletons(apps, schema_editor):
    from accounts.usernames import skeleton

    User = apps.get_model("accounts", "User")
    for user in User.objects.only("pk", "username").iterator(chunk_size=2000):
        User.objects.filter(pk=user.pk).update(username_skeleton=skeleton(user.username))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_post_audience")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="username_skeleton",
            field=models.CharField(blank=True, db_index=True, editable=False, max_length=300),
        ),
        migrations.RunPython(fill_skeletons, migrations.RunPython.noop),
    ]
