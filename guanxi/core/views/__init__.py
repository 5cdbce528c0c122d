"""Web pages of the core domain, one module per area, each with its own ``urlpatterns``."""
