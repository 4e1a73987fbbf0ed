from django.urls import path

from . import views
from .replays.urls import urlpatterns as replay_urls

app_name = "rooms"

urlpatterns = [
    path("", views.space_list, name="list"),
    path("new/", views.space_new, name="new"),
    path("bubbles/", views.live_bubbles, name="bubbles"),
    path("<int:pk>/", views.space_detail, name="detail"),
    path("<int:pk>/edit/", views.space_edit, name="edit"),
    path("<int:pk>/start/", views.space_start, name="start"),
    path("<int:pk>/cancel/", views.space_cancel, name="cancel"),
    path("<int:pk>/end/", views.space_end, name="end"),
    path("<int:pk>/reminder/", views.reminder_toggle, name="reminder"),
    path("<int:pk>/report/", views.space_report, name="report"),
    path("<int:pk>/share/", views.share_to_timeline, name="share"),
    path("<int:pk>/share/dm/", views.share_by_dm, name="share_dm"),
    path("<int:pk>/invite/", views.invite, name="invite"),
    *replay_urls,
]
