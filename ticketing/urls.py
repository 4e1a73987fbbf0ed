from django.conf import settings
from django.urls import include, path

from . import ticket_views, views

app_name = "ticketing"

urlpatterns = [
    path("creator/", views.creator_home, name="creator"),
    path("creator/payout/", views.payout_start, name="payout_start"),
    path("creator/payout/refresh/", views.payout_refresh, name="payout_refresh"),
    path("creator/payout/return/", views.payout_return, name="payout_return"),
    path("creator/enrol/", views.enrol, name="enrol"),
    path("creator/sales.csv", views.sales_csv, name="sales_csv"),
    path("creator/plans/", views.plan_create, name="plan_create"),
    path("creator/plans/<int:pk>/toggle/", views.plan_toggle, name="plan_toggle"),
    path("super-follows/<int:pk>/subscribe/", views.subscribe, name="subscribe"),
    path("super-follows/done/", views.subscribe_done, name="subscribe_done"),
    path("super-follows/@<str:username>/cancel/", views.super_follow_cancel, name="super_follow_cancel"),
    path("spaces/<int:pk>/tip/", views.tip, name="tip"),
    path("tips/done/", views.tip_done, name="tip_done"),
    path("creator/dashboard/", views.dashboard_home, name="dashboard"),
    path("creator/dashboard/spaces/<int:pk>/", views.dashboard_space, name="dashboard_space"),
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
    path("spaces/<int:space_id>/tickets/", ticket_views.space_tickets, name="space_tickets"),
    path("spaces/<int:space_id>/tickets/sell/", ticket_views.offer_create, name="ticket_offer_create"),
    path("spaces/<int:space_id>/tickets/buy/", ticket_views.buy, name="ticket_buy"),
    path("tickets/done/", ticket_views.purchase_done, name="ticket_done"),
    path("tickets/<int:pk>/refund/", ticket_views.refund_request, name="ticket_refund"),
]

if settings.STRIPE_TEST_MODE:
    # Payments test mode: the built-in provider's API and hosted pages (ticketing/test_provider).
    urlpatterns.append(path("test-provider/", include("ticketing.test_provider.urls")))
