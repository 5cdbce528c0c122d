"""WebSocket routes, gathered from the domains."""

from django.urls import path

from guanxi.core.consumers import NotificationConsumer

websocket_urlpatterns = [
    path("ws/notifications/", NotificationConsumer.as_asgi()),
]
