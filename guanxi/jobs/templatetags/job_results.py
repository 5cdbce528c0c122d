"""How a job's result reads on the jobs pages: one line, and the whole of it for the curious."""

from __future__ import annotations

import json

from django import template

from guanxi.jobs.registry import result_summary

register = template.Library()


@register.filter
def job_result_summary(job) -> str:
    return result_summary(job.kind, job.result)


@register.filter
def job_result_json(job) -> str:
    return json.dumps(job.result, ensure_ascii=False, indent=2, default=str)
