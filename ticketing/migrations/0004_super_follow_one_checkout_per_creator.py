from django.conf import settings
from django.db import migrations, models


def expire_all_but_the_newest_checkout(apps, schema_editor):
    """As a new checkout start does: only the newest open checkout of a subscriber for a creator stays payable."""
    subscriptions = apps.get_model("ticketing", "SuperFollowSubscription")
    newest = {}
    for row in subscriptions.objects.filter(status="pending").order_by("created_at", "pk"):
        newest[row.subscriber_id, row.creator_id] = row.pk
    subscriptions.objects.filter(status="pending").exclude(pk__in=newest.values()).update(status="expired")


class Migration(migrations.Migration):
    dependencies = [
        ("ticketing", "0003_super_follow_cancel_at_period_end"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(expire_all_but_the_newest_checkout, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="superfollowsubscription",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "pending")),
                fields=("subscriber", "creator"),
                name="super_follow_one_checkout_per_creator",
            ),
        ),
    ]
