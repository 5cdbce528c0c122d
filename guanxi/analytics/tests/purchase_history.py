"""Setting the stage for analytics tests: customers, products, orders, interactions, cases.

Customers are created through the core services (as a user would); sales and service
records are written directly with the ORM, with chosen times, because these tests are
about reading history, and the sales flow that produces an order (quote, acceptance) has
its own tests in the sales domain.
"""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

from django.utils import timezone

from guanxi.core import services as core_services
from guanxi.core.models import Contact, User

_numbers = itertools.count(1)


def moment(text: str) -> datetime.datetime:
    """``"2025-03-01 10:00"`` in the server's time zone."""
    return timezone.make_aware(datetime.datetime.fromisoformat(text))


def customer(actor: User, name: str, **data) -> Contact:
    return core_services.contact_create(actor=actor, data={"full_name": name, **data})


def product(sku: str, name: str = "", *, family: str = "", created_at: datetime.datetime | None = None):
    from guanxi.sales.models import Product

    return Product.objects.create(sku=sku, name=name or sku, family=family,
                                  created_at=created_at or timezone.now())


def order(contact: Contact | None, lines: list[tuple], *, at: str | datetime.datetime = "2025-01-15 10:00",
          status: str = "completed", currency: str = "CNY", owner: User | None = None, account=None):
    """An order with ``lines`` of (product, quantity, unit price[, discount percent])."""
    from guanxi.sales.models import Order, OrderLine

    ordered_at = moment(at) if isinstance(at, str) else at
    owner = owner or (contact.owner if contact else None)
    placed = Order.objects.create(
        number=f"SO-T-{next(_numbers):06d}", contact=contact, account=account or (contact.account if contact else None),
        currency=currency, status=status, ordered_at=ordered_at, owner=owner,
        team_id=owner.team_id if owner else None, territory_id=contact.territory_id if contact else None,
        created_at=ordered_at, updated_at=timezone.now())
    subtotal = Decimal("0")
    for position, line in enumerate(lines, start=1):
        item, quantity, price = line[:3]
        discount = Decimal(str(line[3])) if len(line) > 3 else Decimal("0")
        total = (Decimal(str(quantity)) * Decimal(str(price)) * (100 - discount) / 100).quantize(Decimal("0.01"))
        OrderLine.objects.create(order=placed, position=position, product=item, description=item.name,
                                 quantity=Decimal(str(quantity)), unit_price=Decimal(str(price)),
                                 discount_percent=discount, line_total=total)
        subtotal += total
    placed.subtotal = placed.total = subtotal
    placed.save(update_fields=["subtotal", "total"])
    return placed


def touch_order(placed) -> None:
    """What the sales services do on every change of an order."""
    from guanxi.sales.models import Order

    Order.objects.filter(pk=placed.pk).update(updated_at=timezone.now())


def interaction(contact: Contact, channel: str = "phone", *, at: str = "2025-01-10 09:00", direction: str = "in",
                duration: int = 60, agent: User | None = None):
    from guanxi.interactions import services as interaction_services

    return interaction_services.interaction_record(actor=None, check_access=False, data={
        "contact_id": contact.pk, "channel": channel, "direction": direction, "occurred_at": moment(at),
        "duration_seconds": duration, "agent_id": agent.pk if agent else None})


def case(contact: Contact, *, category: str = "technical", at: str = "2025-01-12 09:00",
         resolution_breached: bool = False, csat: int | None = None):
    from guanxi.service.models import Case, Survey

    created = moment(at)
    opened = Case.objects.create(number=f"CS-T-{next(_numbers):06d}", subject="Problem", contact=contact,
                                 account=contact.account, category=category, created_at=created,
                                 updated_at=timezone.now(), resolution_breached=resolution_breached,
                                 territory_id=contact.territory_id)
    if csat is not None:
        Survey.objects.create(case=opened, contact=contact, token=f"token-{opened.pk}", csat_score=csat,
                              expires_at=created + datetime.timedelta(days=30), answered_at=created)
    return opened


def settle(days: int = 1) -> None:
    """Move every change time back by ``days``: the records existed before the test's
    first refresh, outside the overlap a refresh re-reads to catch late commits."""
    from django.apps import apps
    from django.db.models import F

    shift = datetime.timedelta(days=days)
    Contact.objects.update(updated_at=F("updated_at") - shift)
    for label, model_name in (("core", "Account"), ("sales", "Order"), ("sales", "Opportunity"),
                              ("sales", "Lead"), ("service", "Case")):
        if apps.is_installed(f"guanxi.{label}"):
            apps.get_model(label, model_name).objects.update(updated_at=F("updated_at") - shift)


def orders_in_bulk(purchases: list[tuple[Contact, datetime.datetime, str]], item) -> None:
    """Many one-line orders at once: (customer, when, amount) each."""
    from guanxi.sales.models import Order, OrderLine

    now = timezone.now()
    placed = Order.objects.bulk_create([
        Order(number=f"SO-B-{next(_numbers):07d}", contact=contact, currency="CNY", status="completed",
              ordered_at=when, owner=contact.owner, subtotal=Decimal(amount), total=Decimal(amount),
              created_at=when, updated_at=now)
        for contact, when, amount in purchases], batch_size=1000)
    OrderLine.objects.bulk_create([
        OrderLine(order=order, position=1, product=item, description=item.name, quantity=Decimal("1"),
                  unit_price=Decimal(amount), line_total=Decimal(amount))
        for order, (_contact, _when, amount) in zip(placed, purchases, strict=True)], batch_size=1000)
