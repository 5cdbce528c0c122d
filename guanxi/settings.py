"""Django settings for Guanxi.

Everything that differs between a laptop and a production cluster is read from the
environment, so one settings module serves both:

- ``DATABASE_URL``: unset means SQLite in ``GUANXI_DATA_DIR`` (zero services);
  ``postgres://user@host:port/name`` switches to PostgreSQL.
- ``REDIS_URL``: unset means the in-process job queue (Huey on SQLite) and the
  in-memory channel layer; set, it means Huey on Redis with separate worker
  processes and the Redis channel layer for real-time pushes.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent
DATA_DIR = Path(os.environ.get("GUANXI_DATA_DIR", PROJECT_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("GUANXI_SECRET_KEY", "guanxi-development-key-change-me-in-production")
DEBUG = os.environ.get("GUANXI_DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("GUANXI_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
CSRF_TRUSTED_ORIGINS = [
    origin for origin in os.environ.get("GUANXI_CSRF_TRUSTED_ORIGINS", "").split(",") if origin
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "huey.contrib.djhuey",
    "ninja",  # serves the API docs page's Swagger UI from local static files, not a CDN
    "guanxi.core",
    "guanxi.interactions",
    "guanxi.jobs",
    "guanxi.outbox",
    "guanxi.sales",
    "guanxi.marketing",
    "guanxi.service",
    "guanxi.analytics",
    "guanxi.contactcenter",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "guanxi.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "guanxi.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "guanxi.core.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# Connections stay open between requests (the server keeps its request threads, see
# guanxi/request_threads.py): opening one costs more CPU than a list page's queries. A
# kept PostgreSQL connection is checked before a request reuses it, so one the server
# dropped (a restart) is replaced instead of failing the request.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("GUANXI_SQLITE_PATH", str(DATA_DIR / "guanxi.sqlite3")),
            "CONN_MAX_AGE": 60,
            "OPTIONS": {
                # WAL lets the web server, the in-process job runner and imports read
                # while one of them writes; IMMEDIATE avoids deadlocked upgrades.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON; PRAGMA cache_size=-64000; PRAGMA mmap_size=268435456;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

# --- Auth -----------------------------------------------------------------------------
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SESSION_ENGINE = "guanxi.core.sessions"  # database sessions, read with SQL prepared once
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False

# --- Internationalization -------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("GUANXI_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True
GUANXI_DEFAULT_REGION = os.environ.get("GUANXI_DEFAULT_REGION", "CN")  # for phone numbers without +

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"

# --- Jobs (Huey) ----------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
HUEY_IMMEDIATE = os.environ.get("GUANXI_JOBS_IMMEDIATE", "0") == "1"
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "guanxi",
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": 4, "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "guanxi",
        "filename": str(DATA_DIR / "jobs-queue.sqlite3"),
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }
# In-process consumer for zero-service mode; `guanxi serve` starts it unless a worker runs apart.
GUANXI_INPROCESS_WORKER = os.environ.get("GUANXI_INPROCESS_WORKER", "0" if REDIS_URL else "1") == "1"

# --- Real-time (Channels) -------------------------------------------------------------
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Email ----------------------------------------------------------------------------
# With GUANXI_EMAIL_HOST (or GUANXI_EMAIL_PORT) set, mail goes to that SMTP server. Without a
# mail server (zero-service mode) every message is kept in the database outbox instead, which
# administrators read on the Outbox page (guanxi.outbox): nothing fails with "connection refused".
MAIL_SERVER_CONFIGURED = bool(os.environ.get("GUANXI_EMAIL_HOST") or os.environ.get("GUANXI_EMAIL_PORT"))
EMAIL_BACKEND = os.environ.get("GUANXI_EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend" if MAIL_SERVER_CONFIGURED
    else "guanxi.outbox.backend.OutboxEmailBackend")
EMAIL_HOST = os.environ.get("GUANXI_EMAIL_HOST") or "127.0.0.1"
EMAIL_PORT = int(os.environ.get("GUANXI_EMAIL_PORT") or "1025")
DEFAULT_FROM_EMAIL = os.environ.get("GUANXI_FROM_EMAIL", "guanxi@example.com")

# --- API ------------------------------------------------------------------------------
NINJA_PAGINATION_PER_PAGE = 50
GUANXI_API_RATE_LIMIT = os.environ.get("GUANXI_API_RATE_LIMIT", "600/m")
GUANXI_LOGIN_RATE_LIMIT = os.environ.get("GUANXI_LOGIN_RATE_LIMIT", "10/m")

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("GUANXI_LOG_LEVEL", "WARNING")},
    "loggers": {"guanxi": {"level": os.environ.get("GUANXI_LOG_LEVEL", "INFO")}},
}
