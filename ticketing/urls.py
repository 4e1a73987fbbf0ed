from django.conf import settings
from django.urls import include, path

from .views import creator, dashboard, purchases, super_follows, tickets, tips, webhooks

app_name = "ticketing"

urlpatterns = [
    path("creator/", creator.creator_home, name="creator"),
    path("creator/payout/", creator.payout_start, name="payout_start"),
    path("creator/payout/refresh/", creator.payout_refresh, name="payout_refresh"),
    path("creator/payout/return/", creator.payout_return, name="payout_return"),
    path("creator/enrol/", super_follows.enrol, name="enrol"),
    path("creator/sales.csv", dashboard.sales_csv, name="sales_csv"),
    path("creator/plans/", super_follows.plan_create, name="plan_create"),
    path("creator/plans/<int:pk>/toggle/", super_follows.plan_toggle, name="plan_toggle"),
    path("super-follows/<int:pk>/subscribe/", super_follows.subscribe, name="subscribe"),
    path("super-follows/done/", super_follows.subscribe_done, name="subscribe_done"),
    path("super-follows/@<str:username>/cancel/", super_follows.super_follow_cancel, name="super_follow_cancel"),
    path("spaces/<int:pk>/tip/", tips.tip, name="tip"),
    path("tips/done/", tips.tip_done, name="tip_done"),
    path("purchases/", purchases.purchases, name="purchases"),
    path("creator/dashboard/", dashboard.dashboard_home, name="dashboard"),
    path("creator/dashboard/spaces/<int:pk>/", dashboard.dashboard_space, name="dashboard_space"),
    path("stripe/webhook/", webhooks.stripe_webhook, name="stripe_webhook"),
    path("spaces/<int:space_id>/tickets/", tickets.space_tickets, name="space_tickets"),
    path("spaces/<int:space_id>/tickets/sell/", tickets.offer_create, name="ticket_offer_create"),
    path("spaces/<int:space_id>/tickets/buy/", tickets.buy, name="ticket_buy"),
    path("tickets/done/", tickets.purchase_done, name="ticket_done"),
    path("tickets/<int:pk>/refund/", tickets.refund_request, name="ticket_refund"),
]

if settings.STRIPE_TEST_MODE:
    # Payments test mode: the built-in provider's API and hosted pages (ticketing/test_provider).
    urlpatterns.append(path("test-provider/", include("ticketing.test_provider.urls")))
