"""The iCal (RFC 5545) feed of a user's activities, written by hand: a calendar needs only
a few properties, escaped and folded as the RFC says."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.utils import timezone

from guanxi.sales.models import Activity, ActivityStatus

DEFAULT_LENGTH = datetime.timedelta(minutes=30)
PRODUCT_ID = "-//Guanxi CRM//Sales activities//EN"


def escape_text(value: str) -> str:
    """TEXT values (RFC 5545 §3.3.11): backslash, semicolon, comma and newlines escaped."""
    return (str(value or "").replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after CRLF and a space
    (§3.1), never splitting a UTF-8 character."""
    encoded = line.encode("utf-8")
    if len(encoded) <= 75:
        return line
    parts, current, size = [], [], 0
    limit = 75
    for character in line:
        width = len(character.encode("utf-8"))
        if size + width > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, 74  # continuation lines start with a space
        current.append(character)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts)


def utc(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _event(activity: Activity, *, site: str, stamp: str) -> list[str]:
    start = activity.start_at
    end = activity.end_at or start + DEFAULT_LENGTH
    lines = ["BEGIN:VEVENT", f"UID:activity-{activity.pk}@guanxi", f"DTSTAMP:{stamp}",
             f"LAST-MODIFIED:{utc(activity.updated_at)}", f"SEQUENCE:{activity.version}"]
    if activity.all_day:
        day = timezone.localtime(start).date()
        last = max(day, timezone.localtime(end).date())
        lines += [f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
                  f"DTEND;VALUE=DATE:{last + datetime.timedelta(days=1):%Y%m%d}"]
    else:
        lines += [f"DTSTART:{utc(start)}", f"DTEND:{utc(end)}"]
    summary = activity.subject
    if activity.is_callback and activity.callback_phone:
        summary = f"{summary} ☎ {activity.callback_phone}"
    lines.append(f"SUMMARY:{escape_text(summary)}")
    details = [activity.description]
    for label, related in (("Account", activity.account), ("Contact", activity.contact),
                           ("Opportunity", activity.opportunity)):
        if related is not None:
            details.append(f"{label}: {related}")
    if activity.outcome:
        details.append(f"Outcome: {activity.outcome}")
    description = "\n".join(part for part in details if part)
    if description:
        lines.append(f"DESCRIPTION:{escape_text(description)}")
    if activity.location:
        lines.append(f"LOCATION:{escape_text(activity.location)}")
    lines.append(f"CATEGORIES:{escape_text(activity.get_kind_display())}")
    lines.append("STATUS:" + {ActivityStatus.CANCELLED: "CANCELLED"}.get(activity.status, "CONFIRMED"))
    lines.append(f"URL:{site}/sales/activities/{activity.pk}/")
    if activity.reminder_at and activity.status == ActivityStatus.PLANNED:
        minutes = max(0, round((start - activity.reminder_at).total_seconds() / 60))
        lines += ["BEGIN:VALARM", "ACTION:DISPLAY", f"DESCRIPTION:{escape_text(activity.subject)}",
                  f"TRIGGER:-PT{minutes}M", "END:VALARM"]
    lines.append("END:VEVENT")
    return lines


def calendar(activities: Iterable[Activity], *, name: str, site: str) -> str:
    """The whole VCALENDAR, lines folded and ended with CRLF."""
    stamp = utc(timezone.now())
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODUCT_ID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape_text(name)}", "REFRESH-INTERVAL;VALUE=DURATION:PT15M"]
    for activity in activities:
        lines += _event(activity, site=site, stamp=stamp)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
