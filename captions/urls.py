from django.urls import path

from . import views

app_name = "captions"

urlpatterns = [
    path("preferences/", views.preferences, name="preferences"),
    path("spaces/<int:pk>/transcript.vtt", views.transcript_vtt, name="transcript_vtt"),
    path("spaces/<int:pk>/transcript.txt", views.transcript_txt, name="transcript_txt"),
    path("spaces/<int:pk>/transcript/delete/", views.transcript_delete, name="transcript_delete"),
    path("search/", views.replay_search, name="search"),
]
