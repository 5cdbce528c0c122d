"""REST routes of the sales domain, mounted at /api/v1/sales.

Each module holds the routes of one area: parse the input, call one selector or service
(which carry the access checks and validation), serialize the answer. Errors map to HTTP
in ``guanxi.api``: 422 field errors, 403, 404, 409 for state rules and stale versions.
"""

from ninja import Router

from guanxi.sales.api import activities, catalogue, leads, opportunities, orders, quotes, reports, team

router = Router()
# Reports first: /pipelines/{id}/conversion must not be read as a pipeline route.
for module in (reports, leads, opportunities, catalogue, quotes, orders, activities, team):
    router.add_router("", module.router)
