"""Every write of the service domain, ``<entity>_<verb>(*, actor, ...)``: atomic, audited,
announced after commit. Grouped by subject in the modules of this package and re-exported
here, so callers write ``from guanxi.service import services``."""

from guanxi.service.services.cases import (
    FirstMessage, IncomingFile, attachment_limit, auto_close_resolved, case_add_customer_message, case_assign,
    case_change_status, case_delete, case_link_customer, case_open, case_reply, case_submit_from_web, case_update,
    contact_by_email, next_number,
    notification_mark_read, notify, queue_route, route_after_capacity_freed, route_all_waiting, service_mailbox,
    sla_sweep,
)
from guanxi.service.services.configuration import (
    agent_save, agent_set_availability, calendar_create, calendar_delete, calendar_update, queue_create,
    queue_delete, queue_update, sla_policy_create, sla_policy_delete, sla_policy_update,
)
from guanxi.service.services.complaints import complaint_create, complaint_delete, complaint_update
from guanxi.service.services.contracts import (
    case_log_time, contract_create, contract_delete, contract_update, entitlement_check,
)
from guanxi.service.services.field_service import time_off_add, visit_delete, visit_schedule, visit_update
from guanxi.service.services.knowledge import (
    article_create, article_delete, article_mark_helpful, article_restore_version, article_update,
)
from guanxi.service.services.surveys import survey_answer, survey_send, survey_send_for_case

__all__ = [
    "article_create", "article_delete", "article_mark_helpful", "article_restore_version", "article_update",
    "case_log_time", "complaint_create", "complaint_delete", "complaint_update", "contract_create",
    "contract_delete", "contract_update", "entitlement_check", "time_off_add", "visit_delete", "visit_schedule",
    "visit_update",
    "FirstMessage", "IncomingFile", "agent_save", "agent_set_availability", "attachment_limit",
    "auto_close_resolved", "calendar_create", "calendar_delete", "calendar_update", "case_add_customer_message",
    "case_assign", "case_change_status", "case_delete", "case_link_customer", "case_open", "case_reply",
    "case_submit_from_web", "case_update", "contact_by_email", "next_number", "notification_mark_read", "notify", "queue_create", "queue_delete",
    "queue_route", "queue_update", "route_after_capacity_freed", "route_all_waiting", "service_mailbox",
    "sla_policy_create", "sla_policy_delete", "sla_policy_update", "sla_sweep", "survey_answer", "survey_send",
    "survey_send_for_case",
]
