"""Replay URLs, under a Space's own: /spaces/<id>/recording/, /spaces/<id>/replay.m4a, ..."""

from django.urls import path

from . import views

urlpatterns = [
    path("<int:pk>/recording/", views.recording_control, name="recording"),
    path("<int:pk>/recording/consent/", views.recording_consent, name="recording_consent"),
    path("<int:pk>/recording/delete/", views.recording_delete_confirm, name="recording_delete"),
    path("<int:pk>/replay.m4a", views.replay_audio, name="replay_audio"),
    path("<int:pk>/replay/listen/", views.replay_listen, name="replay_listen"),
    path("<int:pk>/clips/", views.clip_create, name="clip_create"),
    path("clips/<int:pk>/", views.clip_detail, name="clip"),
    path("clips/<int:pk>/post/", views.clip_post, name="clip_post"),
    path("clips/<int:pk>/share/dm/", views.clip_share_dm, name="clip_share_dm"),
    path("clips/<int:pk>/audio.m4a", views.clip_audio, name="clip_audio"),
]
