"""The URL map: people at the root, Spaces under /spaces/, auth under /accounts/."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from rooms.studio import studio_site
from spaces_site.media import serve_media

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("captions/", include("captions.urls")),
    path("money/", include("ticketing.urls")),
    path("spaces/", include("rooms.urls")),
    path("studio/", studio_site.urls),
    path("", include("accounts.urls")),
    path(f"{settings.MEDIA_URL.strip('/')}/<path:name>", serve_media, name="media"),
]
