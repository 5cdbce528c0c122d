"""WebSocket routes, gathered from the domains."""

from django.urls import path

from guanxi.contactcenter.consumers import AgentDesktopConsumer, WallboardConsumer
from guanxi.core.consumers import NotificationConsumer

websocket_urlpatterns = [
    path("ws/notifications/", NotificationConsumer.as_asgi()),
    path("ws/contact-center/desktop/", AgentDesktopConsumer.as_asgi()),
    path("ws/contact-center/wallboard/", WallboardConsumer.as_asgi()),
]
