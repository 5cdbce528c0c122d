"""Email out: case replies and survey invitations, sent by jobs so that a slow or absent
SMTP server never holds up an agent, and a failed send is retried (``guanxi.jobs``)."""

from __future__ import annotations

from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import translation

from guanxi.service.models import CaseMessage, DeliveryStatus, Survey


def send_case_message(message: CaseMessage) -> None:
    """Email an agent's reply with the headers that thread the customer's answer back."""
    case = message.case
    headers = {"Message-ID": message.message_id}
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
    if message.references:
        headers["References"] = message.references
    email = EmailMessage(subject=message.subject or case.email_subject, body=message.body,
                         from_email=message.from_address, to=[message.to_addresses], headers=headers,
                         reply_to=[message.from_address])
    for attachment in message.attachments.all():
        with attachment.file.open("rb") as handle:
            email.attach(attachment.name, handle.read(), attachment.content_type or None)
    email.send(fail_silently=False)
    CaseMessage.objects.filter(pk=message.pk).update(delivery_status=DeliveryStatus.SENT)


def send_survey(survey: Survey) -> None:
    """Email the survey link in the customer's language."""
    from guanxi.service.services.cases import service_mailbox
    from guanxi.service.services.surveys import survey_url

    with translation.override(survey.language):
        context = {"survey": survey, "case": survey.case, "url": survey_url(survey)}
        subject = render_to_string("service/email/survey_subject.txt", context).strip()
        body = render_to_string("service/email/survey_body.txt", context)
    # Auto-Submitted (RFC 3834) keeps the customer's out-of-office from answering the invitation.
    EmailMessage(subject=subject, body=body, from_email=service_mailbox(), to=[survey.recipient_email],
                 headers={"Auto-Submitted": "auto-generated"}).send(fail_silently=False)
    Survey.objects.filter(pk=survey.pk).update(delivery_status=DeliveryStatus.SENT)


def mark_failed(model, pk: int) -> None:
    model.objects.filter(pk=pk).update(delivery_status=DeliveryStatus.FAILED)
