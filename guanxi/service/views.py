"""Web pages of the service domain: as thin as the API — parse, call one selector or
service, render."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.http import require_http_methods

from guanxi.core.errors import Conflict, NotFound
from guanxi.core.views.guard import staff_page
from guanxi.service import selectors, services
from guanxi.service.services.surveys import survey_token_from_link


@staff_page
def attachment_download(request, attachment_id: int):
    attachment = selectors.access_attachment_by_id(request.user, attachment_id)
    return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.name,
                        content_type=attachment.content_type or "application/octet-stream")


@require_http_methods(["GET", "POST"])
def survey_answer(request, signed_token: str):
    """The public survey page a customer reaches from the email link (no sign-in: the
    signed link is the credential), shown in the survey's language."""
    try:
        survey = selectors.survey_by_token(survey_token_from_link(signed_token))
    except NotFound:
        raise Http404("survey") from None
    errors: dict[str, list[str]] = {}
    problem = ""
    with translation.override(request.GET.get("lang") or survey.language):
        if request.method == "POST":
            try:
                services.survey_answer(token=survey.token, csat_score=request.POST.get("csat_score"),
                                       nps_score=request.POST.get("nps_score"),
                                       comment=request.POST.get("comment", ""))
            except ValidationError as error:
                errors = error.message_dict
            except Conflict as error:
                problem = str(error)
            survey.refresh_from_db()
        status = 400 if errors else 409 if problem else 200
        return render(request, "service/survey_answer.html", {
            "survey": survey, "case": survey.case, "errors": errors, "problem": problem, "posted": request.POST,
            "csat_range": range(1, 6), "nps_range": range(0, 11), "language": translation.get_language(),
        }, status=status)
