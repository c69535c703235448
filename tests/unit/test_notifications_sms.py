"""Quiet hours and the SMS adapters."""
import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from services.notifications import sms

SHANGHAI_NIGHT = {"quiet_start": "22:00", "quiet_end": "07:00", "time_zone": "Asia/Shanghai"}


@pytest.mark.parametrize("utc_time, ends", [
    ("2026-03-01T15:30", "2026-03-02T07:00+08:00"),   # 23:30 in Shanghai: quiet until 07:00 next day
    ("2026-03-01T20:00", "2026-03-02T07:00+08:00"),   # 04:00 in Shanghai: quiet until 07:00 same day
    ("2026-03-01T23:00", None),                       # 07:00 in Shanghai: the window has ended
    ("2026-03-01T05:00", None),                       # 13:00 in Shanghai
])
def test_quiet_hours_wrap_midnight_in_the_recipients_time_zone(utc_time, ends):
    moment = datetime.fromisoformat(utc_time).replace(tzinfo=timezone.utc)
    held = sms.quiet_until(moment, SHANGHAI_NIGHT)
    assert (held.isoformat(timespec="minutes") if held else None) == ends


def test_quiet_hours_within_one_day_and_none_set():
    lunch = {"quiet_start": "12:00", "quiet_end": "14:00", "time_zone": "UTC"}
    assert sms.quiet_until(datetime(2026, 3, 1, 12, 30, tzinfo=timezone.utc), lunch).hour == 14
    assert sms.quiet_until(datetime(2026, 3, 1, 14, 0, tzinfo=timezone.utc), lunch) is None
    assert sms.quiet_until(datetime(2026, 3, 1, 3, 0, tzinfo=timezone.utc), {}) is None


class Provider(BaseHTTPRequestHandler):
    received = []
    status = 200

    def do_POST(self):
        self.received.append((json.loads(self.rfile.read(int(self.headers["Content-Length"]))),
                              self.headers.get("Authorization")))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_http_provider_posts_the_text_and_reports_refusals():
    server = HTTPServer(("127.0.0.1", 0), Provider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        provider = sms.HttpSmsProvider(f"http://127.0.0.1:{server.server_port}/sms", token="k")
        Provider.received, Provider.status = [], 200
        assert provider.send("13800000000", "停水通知", "m1") is True
        assert Provider.received == [({"to": "13800000000", "text": "停水通知", "id": "m1"}, "Bearer k")]
        Provider.status = 500
        assert provider.send("13800000000", "x", "m2") is False
    finally:
        server.shutdown()
        server.server_close()
    assert sms.HttpSmsProvider("http://127.0.0.1:9/unreachable").send("1", "x", "m3") is False
