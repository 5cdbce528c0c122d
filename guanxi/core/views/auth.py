"""Web pages: auth."""

urlpatterns: list = []
