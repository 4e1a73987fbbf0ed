"""The site as Daphne serves it in end-to-end tests, plus static files (no collectstatic step)."""

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from spaces_site.asgi import application as site

application = ASGIStaticFilesHandler(site)
