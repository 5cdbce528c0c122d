"""Every write of the sales domain: ``<entity>_<verb>(*, actor, ...)``, atomic, audited.

Split by area; everything is re-exported here so callers write
``from guanxi.sales import services`` and ``services.lead_convert(...)``.
"""

from guanxi.sales.services.activities import (
    activities_send_reminders, activity_cancel, activity_complete, activity_create, activity_delete,
    activity_record_on_timeline, activity_update, calendar_feed_issue, calendar_feed_revoke, calendar_feed_user,
)
from guanxi.sales.services.catalogue import (
    competitor_create, competitor_delete, competitor_update, discount_limit_set, exchange_rate_set,
    price_list_create, price_list_delete, price_list_update, product_create, product_delete, product_update,
)
from guanxi.sales.services.contracts import (
    contract_create, contract_open_renewal, contract_renew, contract_sign, contract_terminate, contract_update,
    contracts_process_renewals,
)
from guanxi.sales.services.expenses import (
    expense_create, expense_decide, expense_delete, expense_mark_reimbursed, expense_submit, expense_update,
)
from guanxi.sales.services.knowledge import (
    knowledge_comment_add, knowledge_post_create, knowledge_post_delete, knowledge_post_update,
)
from guanxi.sales.services.leads import (
    Conversion, lead_assign, lead_behaviour_record, lead_convert, lead_create, lead_delete, lead_disqualify,
    lead_qualify, lead_update, leads_rescore, scoring_rule_create, scoring_rule_delete, scoring_rule_update,
)
from guanxi.sales.services.opportunities import (
    default_pipeline, opportunities_refresh_base_amounts, opportunity_create, opportunity_delete, opportunity_move,
    opportunity_update, pipeline_create, pipeline_update, stage_create, stage_delete, stage_update,
)
from guanxi.sales.services.orders import (
    commission_rule_create, commission_rule_delete, commission_rule_update, commissions_recalculate,
    commissions_recalculate_all, order_create_from_quote, order_line_update, order_set_status, order_update,
)
from guanxi.sales.services.quotes import (
    quote_accept, quote_accept_token, quote_approve, quote_create, quote_decline, quote_delete, quote_from_token,
    quote_line_add, quote_line_remove, quote_line_update, quote_reject_discount, quote_revise, quote_send,
    quote_update, quotes_expire,
)
from guanxi.sales.services.territories import (
    named_account_remove, named_account_set, quota_create, quota_delete, quota_update, territory_reassign,
)

__all__ = [name for name in dir() if not name.startswith("_")]
