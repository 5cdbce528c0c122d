"""The report builder: build with a preview, save, share with a team, run with the reader's
visibility, export (CSV, XLSX, PDF), refuse bad definitions, and send reports that would
read too much to the background."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from guanxi.analytics.models import Report
from guanxi.analytics.services.reports import report_create, report_update
from guanxi.analytics.services.warehouse import warehouse_refresh
from guanxi.analytics.tests import purchase_history as history
from guanxi.core.models import AuditLog, Role, Team
from guanxi.jobs.models import Job, JobState

pytestmark = pytest.mark.django_db

REVENUE_BY_FAMILY = {"group_by": ["product_family"], "measures": [{"aggregate": "sum", "field": "revenue"},
                                                                  {"aggregate": "count_distinct", "field": "order"}],
                     "sort": "-m0"}


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def shop(warehouse_engine, admin_user, make_user):
    team = Team.objects.create(name="East sales")
    manager = make_user("manager", Role.SALES_MANAGER, team=team)
    team.manager = manager
    team.save(update_fields=["manager"])
    rep = make_user("rep", Role.SALES_REP, team=team)
    other_rep = make_user("other", Role.SALES_REP)
    phones, plans = history.product("PHONE", "Phone", family="phones"), history.product("PLAN", "Plan", family="plans")
    mine = history.customer(admin_user, "王芳", owner_id=rep.pk, income_band="high")
    theirs = history.customer(admin_user, "李雷", owner_id=other_rep.pk, income_band="middle")
    history.order(mine, [(phones, 1, "3000.00"), (plans, 12, "50.00")], at="2025-03-01 10:00")
    history.order(theirs, [(phones, 2, "2500.00")], at="2025-03-02 10:00")
    warehouse_refresh(actor=None)
    return {"team": team, "manager": manager, "rep": rep, "other": other_rep}


def test_a_saved_report_counts_what_each_reader_may_see(shop, admin_user, api_client):
    # given a report saved by the administrator and shared with nobody
    report = report_create(actor=admin_user, data={"name": "Revenue by family", "source": "order_lines",
                                                   "definition": REVENUE_BY_FAMILY, "chart_type": "bar"})

    # when the administrator runs it
    answer = api_client.get(f"/api/v1/analytics/reports/{report.pk}").json()

    # then it groups and sums the order lines, largest first
    assert [(row["g0"], row["m0"], row["m1"]) for row in answer["rows"]] == [("phones", 8000.0, 2),
                                                                          ("plans", 600.0, 1)]
    assert answer["columns"][1]["label"] == "Sum: Revenue" and answer["scanned"] == 3

    # and the rep's own report over the same data sees only the rep's customer
    own = report_create(actor=shop["rep"], data={"name": "My revenue", "source": "order_lines",
                                                 "definition": REVENUE_BY_FAMILY})
    rep_answer = browser(shop["rep"]).get(f"/api/v1/analytics/reports/{own.pk}").json()
    assert [(row["g0"], row["m0"]) for row in rep_answer["rows"]] == [("phones", 3000.0), ("plans", 600.0)]


def test_sharing_with_the_team_lets_teammates_open_it(shop, admin_user):
    report = report_create(actor=shop["manager"], data={"name": "Team view", "source": "customers",
                                                        "definition": {"group_by": ["income_band"]}})
    rep = browser(shop["rep"])
    # a sales rep sees own reports only…
    assert rep.get(f"/api/v1/analytics/reports/{report.pk}").status_code == 404
    # …until the manager shares it with the team
    shared = browser(shop["manager"]).patch(f"/api/v1/analytics/reports/{report.pk}",
                                            {"shared_with_team_id": shop["team"].pk, "version": 1},
                                            content_type="application/json")
    assert shared.status_code == 200 and shared.json()["shared_with_team"]["id"] == shop["team"].pk
    assert rep.get(f"/api/v1/analytics/reports/{report.pk}").status_code == 200
    # the rep may not change it, and nobody outside the team sees it
    assert rep.patch(f"/api/v1/analytics/reports/{report.pk}", {"name": "Mine now"},
                     content_type="application/json").status_code == 403
    assert browser(shop["other"]).get(f"/api/v1/analytics/reports/{report.pk}").status_code == 404
    # and a stale edit is refused
    stale = browser(shop["manager"]).patch(f"/api/v1/analytics/reports/{report.pk}", {"name": "X", "version": 1},
                                           content_type="application/json")
    assert stale.status_code == 409 and Report.objects.get(pk=report.pk).name == "Team view"


def test_sharing_with_a_team_the_owner_is_not_in_is_refused(shop):
    outsiders = Team.objects.create(name="West sales")
    with pytest.raises(Exception) as raised:
        report_create(actor=shop["rep"], data={"name": "X", "source": "customers", "definition": {},
                                               "shared_with_team_id": outsiders.pk})
    assert "shared_with_team_id" in raised.value.message_dict
    assert not Report.objects.exists()


def test_bad_definitions_are_refused_with_field_errors(shop, api_client):
    response = api_client.post("/api/v1/analytics/reports", {
        "name": "Bad", "source": "order_lines",
        "definition": {"group_by": ["password"], "measures": [{"aggregate": "sum", "field": "order"}],
                       "filters": [{"field": "ordered_on", "operator": "between", "value": ["2025-02-01", "x"]},
                                   {"field": "revenue", "operator": "contains", "value": "1"}],
                       "limit": 5000}}, content_type="application/json")
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {"definition.group_by", "definition.measures.0", "definition.filters.0",
                           "definition.filters.1", "definition.limit"}
    unknown = api_client.post("/api/v1/analytics/reports", {"name": "Bad", "source": "salaries", "definition": {}},
                              content_type="application/json")
    assert unknown.status_code == 422 and "source" in unknown.json()["errors"]
    assert not Report.objects.exists()


def test_filters_narrow_the_rows(shop, api_client, admin_user):
    report = report_create(actor=admin_user, data={"name": "High income phones", "source": "order_lines",
                                                   "definition": {
        "group_by": ["month"], "measures": [{"aggregate": "sum", "field": "quantity"}],
        "filters": [{"field": "income_band", "operator": "in", "value": ["high"]},
                    {"field": "product_family", "operator": "eq", "value": "phones"},
                    {"field": "ordered_on", "operator": "between", "value": ["2025-03-01", "2025-03-31"]}]}})
    answer = api_client.get(f"/api/v1/analytics/reports/{report.pk}").json()
    assert [(row["g0"], row["m0"]) for row in answer["rows"]] == [("2025-03", 1.0)]


def test_exports_in_three_formats_are_audited(shop, api_client, admin_user):
    report = report_create(actor=admin_user, data={"name": "收入 by family", "source": "order_lines",
                                                   "definition": REVENUE_BY_FAMILY})
    as_csv = api_client.get(f"/api/v1/analytics/reports/{report.pk}/export", {"format": "csv"})
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0] == ["Product family", "Sum: Revenue", "Orders"] and rows[1] == ["phones", "8000.0", "2"]
    as_xlsx = api_client.get(f"/api/v1/analytics/reports/{report.pk}/export", {"format": "xlsx"})
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    assert sheet.cell(row=2, column=2).value == 8000.0
    as_pdf = api_client.get(f"/api/v1/analytics/reports/{report.pk}/export", {"format": "pdf"})
    assert as_pdf.content.startswith(b"%PDF") and b"STSong-Light" in as_pdf.content
    assert AuditLog.objects.filter(action="export", object_type="report", object_id=str(report.pk)).count() == 3
    assert api_client.get(f"/api/v1/analytics/reports/{report.pk}/export", {"format": "exe"}).status_code == 422


def test_a_report_that_reads_too_much_runs_in_the_background(shop, admin_user, api_client, settings):
    # given a page limit lower than the report's rows
    settings.GUANXI_REPORT_SCAN_LIMIT = 2
    report = report_create(actor=admin_user, data={"name": "Big", "source": "order_lines",
                                                   "definition": REVENUE_BY_FAMILY})

    # when it is opened, the API says so and the page offers the background run
    assert api_client.get(f"/api/v1/analytics/reports/{report.pk}").status_code == 409
    page = browser(admin_user).get(reverse("analytics:report_detail", args=[report.pk])).content.decode()
    assert "would read 3 rows" in page and "Run in the background" in page

    # when it runs in the background, the job keeps the result and the page shows it
    response = browser(admin_user).post(reverse("analytics:report_run_background", args=[report.pk]))
    job = Job.objects.get(kind="analytics.run_report")
    assert response.status_code == 302 and job.state == JobState.SUCCEEDED, job.error
    assert job.result["report"]["rows"][0]["g0"] == "phones"
    # the job page shows its progress, and the report page lists the run with its result
    assert response.url == reverse("jobs:detail", args=[job.pk]) and job.total and job.progress == job.total
    job_page = browser(admin_user).get(response.url).content.decode()
    assert "<progress" in job_page
    # … with a one-line summary of the result; its rows only in the folded full result
    report_result = job.result["report"]
    assert (f'<p id="job-result-summary">{len(report_result["rows"])} rows · {len(report_result["columns"])} columns'
            f'</p>') in job_page
    assert job_page.index('<details id="job-result-full">') < job_page.index("phones")
    listed = browser(admin_user).get(reverse("analytics:report_detail", args=[report.pk])).content.decode()
    assert f'href="?job={job.pk}"' in listed
    page = browser(admin_user).get(reverse("analytics:report_detail", args=[report.pk]), {"job": job.pk})
    assert "Result of the background run" in page.content.decode() and "8,000.00" in page.content.decode()

    # and an export too large for a direct answer is written by a job and downloaded
    download = browser(admin_user).get(reverse("analytics:report_download", args=[report.pk, "csv"]))
    export_job = Job.objects.get(kind="analytics.export_report")
    assert download.status_code == 302 and export_job.state == JobState.SUCCEEDED, export_job.error
    export_page = browser(admin_user).get(reverse("jobs:detail", args=[export_job.pk])).content.decode()
    assert f'{export_job.result["file_name"]} · {export_job.result["rows"]} rows</p>' in export_page
    file_response = browser(admin_user).get(reverse("analytics:report_job_file", args=[export_job.pk]))
    assert file_response.status_code == 200 and b"phones" in b"".join(file_response.streaming_content)
    # nobody else may fetch that file
    assert browser(shop["rep"]).get(reverse("analytics:report_job_file", args=[export_job.pk])).status_code == 404


def test_building_previewing_and_saving_on_the_page(shop, admin_user):
    client = browser(admin_user)
    # choose the object
    page = client.get(reverse("analytics:report_create"), {"source": "order_lines"})
    assert page.status_code == 200 and "Group by" in page.content.decode()
    fields = {"source": "order_lines", "group_by_0": "product_family", "measure_0": "sum:revenue",
              "chart_type": "pie", "sort": "-m0", "limit": "10"}
    # preview without a name
    preview = client.get(reverse("analytics:report_create"), {**fields, "preview": "1"}).content.decode()
    assert 'data-chart="chart-data-report-chart"' in preview and "8,000.00" in preview
    # saving without a name says so and saves nothing
    refused = client.post(reverse("analytics:report_create"), fields)
    assert refused.status_code == 200 and not Report.objects.exists()
    # saving with a name and the dashboard flag
    saved = client.post(reverse("analytics:report_create"), {**fields, "name": "Family mix", "on_dashboard": "on"})
    report = Report.objects.get()
    assert saved.status_code == 302 and saved.url == reverse("analytics:report_detail", args=[report.pk])
    assert report.definition["group_by"] == ["product_family"] and report.chart_type == "pie" and report.on_dashboard
    detail = client.get(saved.url).content.decode()
    assert "Family mix" in detail and "Export CSV" in detail
    # edit keeps the choices, delete removes it
    edit = client.get(reverse("analytics:report_edit", args=[report.pk])).content.decode()
    assert 'value="sum:revenue" selected' in edit
    client.post(reverse("analytics:report_delete", args=[report.pk]))
    assert not Report.objects.exists()


def test_a_rep_may_not_export_or_edit_others_reports(shop, admin_user):
    report = report_create(actor=shop["rep"], data={"name": "Mine", "source": "customers", "definition": {}})
    rep = browser(shop["rep"])
    assert rep.get(f"/api/v1/analytics/reports/{report.pk}/export", {"format": "csv"}).status_code == 403
    assert browser(shop["other"]).delete(f"/api/v1/analytics/reports/{report.pk}").status_code == 404
    report_update(actor=shop["rep"], report_id=report.pk, data={"name": "Still mine"})
    assert Report.objects.get(pk=report.pk).name == "Still mine"
