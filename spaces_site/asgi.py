"""ASGI entry point: Django for HTTP, Channels consumers for websockets."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spaces_site.settings.dev")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware  # noqa: E402

from accounts.socket_logins import BatchedAuthMiddleware  # noqa: E402
from spaces_site import collector  # noqa: E402
from spaces_site.body_limit import limit_request_body  # noqa: E402
from spaces_site.routing import websocket_urlpatterns  # noqa: E402


class SocketSessionMiddleware(SessionMiddleware):
    """Channels' SessionMiddleware without its wrapper around `send`: the wrapper only ever saves a session on
    `http.response.start`, never on a websocket, yet it inspects the lazy session on every message, and a
    live Space sends every listener a message every 60 ms."""

    async def __call__(self, scope, receive, send):
        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        return await self.inner(wrapper.scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": limit_request_body(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            CookieMiddleware(SocketSessionMiddleware(BatchedAuthMiddleware(URLRouter(websocket_urlpatterns))))
        ),
    }
)

# Everything loaded by now (Django, the apps, their modules) lives as long as the process, and so do most of the
# objects that survive a full collection (the sockets' own): left out of the next ones, a full collection after a
# burst of joins scans only what the burst made (spaces_site/collector.py).
collector.keep_survivors_out_of_full_collections()
