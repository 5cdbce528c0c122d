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
from guanxi.marketing.services.ab_tests import ab_test_decide, ab_test_remove, ab_test_set  # noqa: F401
from guanxi.marketing.services.campaigns import (  # noqa: F401
    call_list_entry_update, campaign_add_cost, campaign_cancel, campaign_complete, campaign_create, campaign_delete,
    campaign_launch, campaign_update, campaign_validate,
)
from guanxi.marketing.services.responses import (  # noqa: F401
    bounce_process, campaign_response_record, contact_unsubscribe, suppression_remove, track_click, track_open,
)
from guanxi.marketing.services.campaigns import campaign_mark_mailed  # noqa: F401
from guanxi.marketing.services.events import (  # noqa: F401
    event_create, event_delete, event_follow_up, event_register, event_update, events_send_reminders,
    registration_cancel, registrations_mark_attendance,
)
from guanxi.marketing.services.materials import (  # noqa: F401
    material_add_version, material_create, material_delete, material_update, material_version_for_download,
)
