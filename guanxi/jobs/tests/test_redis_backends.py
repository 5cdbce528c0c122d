"""With REDIS_URL set, jobs run in separate `guanxi worker` processes on Huey/Redis and
real-time pushes travel over the Redis channel layer."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REDIS_URL = os.environ.get("GUANXI_TEST_REDIS_URL", "")
PROJECT = Path(__file__).resolve().parents[3]


@pytest.fixture
def redis_url():
    if not REDIS_URL:
        if os.environ.get("GUANXI_REQUIRE_SERVICES"):
            pytest.fail("GUANXI_TEST_REDIS_URL is not set; scripts/services.sh starts Redis")
        pytest.skip("no Redis configured for tests")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


def _run(args, env, **kwargs):
    if args[0] == "shell":  # Django 5.2 shell prints its auto-imports first; keep only our output
        args = ["shell", "--no-imports", *args[1:]]
    return subprocess.run([sys.executable, "-m", "guanxi.cli", *args], env=env, cwd=PROJECT, text=True,
                          capture_output=True, timeout=120, **kwargs)


def test_separate_worker_process_runs_jobs_from_redis(redis_url):
    data_dir = tempfile.mkdtemp(prefix="guanxi-redis-")
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(GUANXI_DATA_DIR=data_dir, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="guanxi.settings")
    assert _run(["migrate", "--noinput", "-v", "0"], env).returncode == 0
    # given a job enqueued by the web process: with Redis configured, nothing runs it in-process
    enqueue = _run(["shell", "-c", "from guanxi.jobs.services import job_enqueue; "
                                   "print(job_enqueue(actor=None, kind='jobs.purge_finished', params={'days': 1}).pk)"],
                   env)
    assert enqueue.returncode == 0, enqueue.stderr
    job_id = int(enqueue.stdout.strip().splitlines()[-1])

    def state() -> str:  # read the row directly: starting Django per poll would be slow
        with sqlite3.connect(Path(data_dir) / "guanxi.sqlite3") as database:
            return database.execute("SELECT state FROM jobs_job WHERE id = ?", [job_id]).fetchone()[0]

    assert state() == "queued"
    # when a worker process starts
    worker = subprocess.Popen([sys.executable, "-m", "guanxi.cli", "worker", "--workers", "1"], env=env, cwd=PROJECT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        current = "queued"
        while time.monotonic() < deadline and current != "succeeded":
            time.sleep(0.2)
            current = state()
        # then it ran the job
        assert current == "succeeded"
    finally:
        worker.terminate()
        worker.wait(timeout=20)


def test_redis_channel_layer_delivers_group_messages(redis_url):
    import asyncio

    from channels_redis.core import RedisChannelLayer

    async def round_trip():
        layer = RedisChannelLayer(hosts=[redis_url])
        channel = await layer.new_channel()
        await layer.group_add("contact.42", channel)
        await layer.group_send("contact.42", {"type": "notify", "event": "interaction.created", "payload": {"id": 1}})
        message = await asyncio.wait_for(layer.receive(channel), timeout=5)
        await layer.flush()
        return message

    message = asyncio.run(round_trip())
    assert message["event"] == "interaction.created" and message["payload"] == {"id": 1}
