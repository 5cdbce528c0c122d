"""Writes of message templates, their preview for one contact and the test send."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.core import selectors as core_selectors
from guanxi.core.audit import audit_record, diff
from guanxi.core.errors import Conflict
from guanxi.core.models import AuditAction, User
from guanxi.marketing import conf, mail_merge, selectors
from guanxi.marketing.models import MessageTemplate, TemplateChannel
from guanxi.marketing.services.common import check_version, full_clean_errors, raise_if, require_create, snapshot

TEMPLATE_FIELDS = ("name", "channel", "subject_en", "body_en", "subject_zh", "body_zh")


def _apply(template: MessageTemplate, data: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for field in TEMPLATE_FIELDS:
        if field in data and data[field] is not None:
            value = data[field]
            setattr(template, field, value.strip() if field in ("name", "subject_en", "subject_zh") else value)
    if not (template.body_en.strip() or template.body_zh.strip()):
        errors["body_en"] = [_("Write the message in English, Chinese or both.")]
    if template.channel == TemplateChannel.EMAIL:
        for language, subject, body in (("en", "subject_en", "body_en"), ("zh", "subject_zh", "body_zh")):
            if getattr(template, body).strip() and not getattr(template, subject).strip():
                errors.setdefault(subject, []).append(_("An email needs a subject."))
    try:
        mail_merge.check_template({name: getattr(template, name) for name in mail_merge.TEMPLATE_PARTS},
                                  html=template.channel == TemplateChannel.EMAIL)
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    full_clean_errors(template, ["owner"], errors)
    return errors


@transaction.atomic
def message_template_create(*, actor: User, data: dict) -> MessageTemplate:
    require_create(actor, selectors.TEMPLATE, _("You may not create templates."))
    template = MessageTemplate(owner=actor)
    raise_if(_apply(template, data))
    template.save()
    audit_record(actor=actor, action=AuditAction.CREATE, obj=template,
                 changes=diff({}, snapshot(template, TEMPLATE_FIELDS)))
    return template


@transaction.atomic
def message_template_update(*, actor: User, template_id: int, data: dict,
                            expected_version: int | None = None) -> MessageTemplate:
    template = selectors.access_template_by_id(actor, template_id, "change")
    template = MessageTemplate.objects.select_for_update().get(pk=template.pk)
    check_version(template, expected_version)
    before = snapshot(template, TEMPLATE_FIELDS)
    if "channel" in data and data["channel"] != template.channel and template.campaigns.exists():
        raise_if({"channel": [_("Campaigns use this template; its channel cannot change.")]})
    raise_if(_apply(template, data))
    template.updated_at = timezone.now()
    template.version = F("version") + 1
    template.save()
    template.refresh_from_db()
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=template,
                 changes=diff(before, snapshot(template, TEMPLATE_FIELDS)))
    return template


@transaction.atomic
def message_template_delete(*, actor: User, template_id: int) -> None:
    template = selectors.access_template_by_id(actor, template_id, "delete")
    in_use = list(template.campaigns.values_list("name", flat=True)[:3])
    if in_use:
        raise Conflict(_("Campaigns use this template (%(names)s); it cannot be deleted.")
                       % {"names": ", ".join(in_use)})
    audit_record(actor=actor, action=AuditAction.DELETE, obj=template, changes={"name": [template.name, None]})
    template.delete()


def preview_context(contact_id: int, *, campaign=None, event=None) -> dict:
    """The merge context of one contact, with the campaign's and event's fields when given."""
    from guanxi.marketing.sending import campaign_merge_fields

    extra = {**campaign_merge_fields(campaign, event),
             "unsubscribe_url": f"{conf.public_url()}/marketing/u/preview/"}
    return mail_merge.contexts_for([contact_id], extra)[contact_id]


def template_preview(*, actor: User, template_id: int, contact_id: int, language: str = "",
                     campaign_id: int | None = None) -> mail_merge.RenderedMessage:
    """The template rendered for one contact the actor may see, in the contact's language
    unless ``language`` is given. An unknown field fails here, naming it."""
    template = selectors.access_template_by_id(actor, template_id)
    try:
        contact = core_selectors.access_contact_by_id(actor, contact_id)
    except core_selectors.NotFound:
        raise ValidationError({"contact_id": [_("Unknown contact.")]}) from None
    campaign = selectors.access_campaign_by_id(actor, campaign_id) if campaign_id else None
    if language and language not in ("en", "zh-hans"):
        raise ValidationError({"language": [_("Choose English (en) or Chinese (zh-hans).")]})
    context = preview_context(contact.pk, campaign=campaign)
    return mail_merge.render_checked(template, context, language or None)


def template_test_send(*, actor: User, template_id: int, contact_id: int, to_email: str, language: str = "",
                       campaign_id: int | None = None) -> mail_merge.RenderedMessage:
    """Render for ``contact_id`` and send the result to ``to_email`` (not to the contact),
    marked as a test, through the configured SMTP server."""
    try:
        validate_email(to_email)
    except ValidationError:
        raise ValidationError({"to_email": [_("Enter a valid email address.")]}) from None
    template = selectors.access_template_by_id(actor, template_id)
    if template.channel != TemplateChannel.EMAIL:
        raise ValidationError({"template_id": [_("Only email templates can be test-sent.")]})
    rendered = template_preview(actor=actor, template_id=template_id, contact_id=contact_id, language=language,
                                campaign_id=campaign_id)
    message = EmailMultiAlternatives(subject=_("[Test] %(subject)s") % {"subject": rendered.subject},
                                     body=rendered.text, from_email=f"{conf.from_name()} <{conf.from_email()}>",
                                     to=[to_email], headers={"X-Guanxi-Test": "1"})
    message.attach_alternative(rendered.body, "text/html")
    try:
        get_connection(fail_silently=False).send_messages([message])
    except OSError as error:
        raise ValidationError({"to_email": [_("The mail server did not accept the message: %(error)s")
                                            % {"error": error}]}) from None
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=template,
                 changes={"test_sent_to": [None, to_email], "contact_id": [None, contact_id]})
    return rendered
