"""Fixtures of the marketing tests: a real SMTP server on loopback, customers to mail."""

import pytest

from guanxi.marketing.tests.smtp_sink import SmtpSink


@pytest.fixture
def smtp_sink(settings):
    """A real SMTP server on a random loopback port; Django's SMTP backend points at it."""
    with SmtpSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = sink.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_TIMEOUT = 5
        yield sink
