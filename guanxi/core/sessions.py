"""The session engine (``SESSION_ENGINE``): Django's database sessions, read with SQL prepared once.

Every page reads its session first. The ORM compiled the same two-condition query on each
request, four times the cost of running it; the ``RowReader`` keeps it compiled. Storing,
expiry and the stored format are Django's own, so sessions move freely between the two.
"""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.db import connection
from django.utils import timezone

from guanxi.core.row_reader import RowReader


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        """``Session.objects.get(session_key=…, expire_date__gt=now)``, or ``None`` (and no
        session key) when there is no such unexpired session."""
        quote = connection.ops.quote_name
        found = RowReader.of(self.model)(
            f"WHERE {quote('session_key')} = %s AND {quote('expire_date')} > %s",
            [self.session_key, connection.ops.adapt_datetimefield_value(timezone.now())])
        if not found:
            self._session_key = None
            return None
        return found[0]
