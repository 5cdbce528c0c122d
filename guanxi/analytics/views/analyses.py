"""The built-in analyses: the list by section, and one analysis with its parameters, key
figures, chart, tables and exports."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from guanxi.analytics import warehouse
from guanxi.analytics.selectors import analyses as selectors
from guanxi.analytics.services.exports import analysis_export
from guanxi.core.access import can
from guanxi.core.views.guard import staff_page


@staff_page
def analysis_list(request):
    return render(request, "analytics/analysis_list.html", {"sections": selectors.analysis_sections(request.user)})


@staff_page
def analysis_detail(request, key: str):
    not_built = False
    try:
        answer = selectors.run_analysis(request.user, key, request.GET)
    except warehouse.WarehouseNotBuilt:
        analysis = selectors.access_analysis(request.user, key)
        answer = selectors.AnalysisAnswer(analysis, selectors.parameters_form(analysis, request.GET), None)
        not_built = True
    query = request.GET.urlencode()
    return render(request, "analytics/analysis_detail.html", {
        "answer": answer, "analysis": answer.analysis, "form": answer.form, "result": answer.result,
        "not_built": not_built, "may_export": can(request.user, "analysis", "export"), "query": query,
        "may_refresh": can(request.user, "warehouse", "change")})


@staff_page
def analysis_download(request, key: str, export_format: str):
    exported = analysis_export(actor=request.user, key=key, data=request.GET, export_format=export_format)
    response = HttpResponse(exported.content, content_type=exported.content_type)
    response["Content-Disposition"] = f'attachment; filename="{exported.file_name}"'
    return response
