"""The root page: the home timeline for people signed in, the front door for everyone else."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from accounts import views as account_views
from rooms import views as room_views


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return account_views.home(request)
    return room_views.front_door(request)
