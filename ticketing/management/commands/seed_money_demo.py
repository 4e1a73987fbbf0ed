"""Gives the demo creator leo money to show: a ready payout account, plans, ticket sales, Super Followers,
tips and a refund, all paid through the payments test provider. Running it again changes nothing."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.db.models import F
from django.utils import timezone

from accounts.models import Post, User
from accounts.services import post_create
from rooms.models import Space
from spaces_site.celery import app as celery_app
from ticketing import payouts, super_follows, tickets, tips
from ticketing.models import (
    CreatorProfile,
    Sale,
    SuperFollowPlan,
    SuperFollowSubscription,
    Ticket,
    TicketOffer,
    Tip,
)
from ticketing.test_provider import engine, store

# The site the demo's checkouts return to (only their URLs; nobody visits them during seeding).
SITE = "http://127.0.0.1:8000"
TICKET_BUYERS = 14
PAGE_VIEWS = 61
SUPER_FOLLOWERS = 9
TIPS = ((500, True), (1_200, True), (300, False), (2_000, True), (750, True))
SUBSCRIBER_POST = "Backstage: the wireframes I'm tearing down on Friday. Thanks for the Super Follow!"


class Command(BaseCommand):
    help = "Leo's money story for the dashboard, paid through the payments test provider (idempotent)."

    def handle(self, *args, **options) -> None:
        if not settings.STRIPE_TEST_MODE:
            self.stdout.write("Payments are live (STRIPE_SECRET_KEY is set): no demo money is made.")
            return
        leo = User.objects.filter(username="leo").first()
        if leo is None:
            self.stdout.write("No demo creator yet; run seed_demo first.")
            return
        fans = list(User.objects.filter(username__startswith="fan").order_by("username")[:60])
        # Webhooks are applied here and now, as `make run` does, even with a broker configured.
        eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True
        try:
            self._payout_ready(leo)
            self._plans(leo)
            self._super_followers(leo, fans[TICKET_BUYERS : TICKET_BUYERS + SUPER_FOLLOWERS])
            self._tips(leo, fans[40:60])
            offer = self._ticketed_space(leo, fans[:TICKET_BUYERS])
        finally:
            celery_app.conf.task_always_eager = eager
        summary = (
            f"leo's money: {offer.sold_count} of {offer.quantity} tickets sold for “{offer.space.title}”, "
            f"{SuperFollowSubscription.objects.filter(creator=leo, status='active').count()} Super Followers, "
            f"{Tip.objects.filter(host=leo, status='paid').count()} tips, "
            f"{Ticket.objects.filter(offer=offer, status='refunded').count()} refund (test mode)."
        )
        self.stdout.write(self.style.SUCCESS(summary))

    def _payout_ready(self, leo: User) -> None:
        profile = CreatorProfile.objects.filter(user=leo).first()
        if profile is not None and profile.payout_ready:
            return
        payouts.payout_onboarding_start(
            user=leo, refresh_url=f"{SITE}/money/creator/payout/refresh/", return_url=f"{SITE}/money/creator/"
        )
        account_id = CreatorProfile.objects.get(user=leo).stripe_account_id
        # Leo clicks "Complete onboarding" on the provider's hosted page.
        with store.atomic():
            engine.account_onboarding_complete(account=store.get("account", account_id), origin=SITE)
        payouts.payout_account_refresh(user=leo)

    def _plans(self, leo: User) -> None:
        super_follows.super_follows_enrol(user=leo)
        for price in settings.SUPER_FOLLOWS_PRICES_CENTS[:2]:
            if not SuperFollowPlan.objects.filter(creator=leo, price_cents=price, active=True).exists():
                super_follows.super_follow_plan_create(creator=leo, price_cents=price)
        if not Post.objects.filter(author=leo, audience=Post.Audience.SUPER_FOLLOWERS).exists():
            post_create(author=leo, body=SUBSCRIBER_POST, audience=Post.Audience.SUPER_FOLLOWERS)

    def _super_followers(self, leo: User, fans: list[User]) -> None:
        plans = list(SuperFollowPlan.objects.filter(creator=leo, active=True).order_by("price_cents"))
        for index, fan in enumerate(fans):
            if SuperFollowSubscription.objects.filter(subscriber=fan, creator=leo).exists():
                continue
            _, url = super_follows.super_follow_checkout_start(
                plan=plans[index % len(plans)],
                subscriber=fan,
                success_url=f"{SITE}/money/super-follows/done/?session_id={{CHECKOUT_SESSION_ID}}",
                cancel_url=f"{SITE}/@leo/",
            )
            _pay(url, fan)
            # Some joined in earlier months (their first month's sale), so the chart has a history.
            Sale.objects.filter(super_follow__subscriber=fan, super_follow__creator=leo).update(
                created_at=timezone.now() - timedelta(days=30 * (index % 3))
            )

    def _tips(self, leo: User, fans: list[User]) -> None:
        if Space.objects.filter(host=leo, title="Office hours: portfolio reviews").exists():
            return
        started = timezone.now() - timedelta(days=36, hours=2)  # last month, for the chart
        space = Space.objects.create(
            host=leo,
            title="Office hours: portfolio reviews",
            topics="design,careers",
            state=Space.State.LIVE,
            started_at=started,
        )
        for fan, (cents, announce) in zip(fans, TIPS, strict=False):
            _, url = tips.tip_start(
                space=space,
                tipper=fan,
                amount_cents=cents,
                announce=announce,
                success_url=f"{SITE}/money/tips/done/?session_id={{CHECKOUT_SESSION_ID}}",
                cancel_url=f"{SITE}/money/spaces/{space.pk}/tip/",
            )
            _pay(url, fan)
        Space.objects.filter(pk=space.pk).update(state=Space.State.ENDED, ended_at=started + timedelta(hours=1))
        Sale.objects.filter(space=space).update(created_at=started + timedelta(minutes=20))

    def _ticketed_space(self, leo: User, buyers: list[User]) -> TicketOffer:
        offer = TicketOffer.objects.filter(space__host=leo).select_related("space").first()
        if offer is not None:
            return offer
        start = (timezone.now() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
        space = Space.objects.create(
            host=leo, title="Product design teardown, live", topics="design,product", scheduled_for=start
        )
        offer = tickets.ticket_offer_create(space=space, by=leo, price_cents=1_500, quantity=40)
        offer = TicketOffer.objects.select_related("space__host").get(pk=offer.pk)
        for buyer in buyers:
            hold = tickets.ticket_purchase_start(
                offer=offer,
                buyer=buyer,
                success_url=f"{SITE}/money/tickets/done/?session_id={{CHECKOUT_SESSION_ID}}",
                cancel_url=f"{SITE}/money/spaces/{space.pk}/tickets/",
            )
            _pay(hold.checkout_url, buyer)
        TicketOffer.objects.filter(pk=offer.pk).update(page_views=F("page_views") + PAGE_VIEWS)
        # One buyer can't make it after all and asks for their money back before the start.
        refunded = Ticket.objects.filter(offer=offer).order_by("pk").first()
        if refunded is not None:
            try:
                tickets.ticket_refund_request(ticket=refunded, by=refunded.buyer)
            except ValidationError as exc:
                self.stderr.write(f"The demo refund was refused: {' '.join(exc.messages)}")
        offer.refresh_from_db()
        return offer


def _pay(checkout_url: str, buyer: User) -> None:
    """The buyer pays with 4242 4242 4242 4242 on the provider's hosted checkout."""
    session_id = checkout_url.rstrip("/").rsplit("/", 1)[-1]
    with store.atomic():
        engine.session_pay(
            session=store.get("checkout.session", session_id),
            email=buyer.email or f"{buyer.username}@demo.spaces.local",
            card_brand="visa",
            card_last4="4242",
        )
