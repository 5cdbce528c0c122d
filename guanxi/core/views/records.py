"""Web pages: records."""

urlpatterns: list = []
