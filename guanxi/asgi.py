"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings")

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from guanxi.request_threads import get_asgi_application  # noqa: E402

# Django's handler, with request threads (and so database connections) kept between requests.
django_application = get_asgi_application()

from guanxi.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    # The static handler serves /static/ from the app folders, so one process with no
    # web server in front still delivers CSS and JS; production may put nginx in front.
    "http": ASGIStaticFilesHandler(django_application),
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
