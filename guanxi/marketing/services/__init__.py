"""Every write of the marketing domain: ``<entity>_<verb>(*, actor, ...)``, atomic, audited.

Split by area; everything is re-exported here so callers write
``from guanxi.marketing import services`` and ``services.segment_create(...)``.
"""

from guanxi.marketing.services.segments import (  # noqa: F401
    segment_add_members, segment_create, segment_delete, segment_freeze, segment_recount, segment_remove_members,
    segment_update,
)
from guanxi.marketing.services.templates import (  # noqa: F401
    message_template_create, message_template_delete, message_template_update, preview_context,
    template_preview, template_test_send,
)
