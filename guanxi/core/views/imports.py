"""Web pages: imports."""

urlpatterns: list = []
