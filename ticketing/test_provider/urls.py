"""Mounted under /money/test-provider/ only in payments test mode (see ticketing/urls.py)."""

from django.urls import path

from . import views

app_name = "stripe_test_provider"

urlpatterns = [
    path("v1/<path:path>", views.api_request, name="api"),
    path("checkout/<str:session_id>/", views.checkout, name="checkout"),
    path("connect/<str:account_id>/<str:link_id>/", views.onboarding, name="onboarding"),
]
