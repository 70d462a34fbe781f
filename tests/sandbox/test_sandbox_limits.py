"""The leaky bucket, the operating-time limit and injected faults (limits.md)."""

from __future__ import annotations

import requests

from b24sandbox.server import SandboxServer


def test_a_burst_beyond_50_gets_503_query_limit_exceeded(tmp_path):
    with SandboxServer(tmp_path / "p.db", rate_limit=True) as sb:
        statuses = [requests.get(sb.webhook_url + "user.admin", timeout=5) for _ in range(56)]
    codes = [r.status_code for r in statuses]
    assert codes[:50] == [200] * 50
    rejected = [r for r in statuses if r.status_code == 503]
    assert rejected and rejected[0].json() == {"error": "QUERY_LIMIT_EXCEEDED",
                                               "error_description": "Too many requests"}


def test_batch_counts_once_toward_the_bucket(tmp_path):
    with SandboxServer(tmp_path / "p.db", rate_limit=True) as sb:
        cmd = {f"c{i}": "user.admin" for i in range(50)}
        for _ in range(45):
            assert requests.post(sb.webhook_url + "batch", json={"cmd": cmd}, timeout=5).status_code == 200


def test_operating_time_accumulates_and_blocks_only_that_method(sb):
    requests.post(sb.url + "/sandbox/faults", json={"operating_costs": {"crm.item.list": 2.0}, "operating_limit": 5},
                  timeout=5)
    operating = [requests.get(sb.webhook_url + "crm.item.list?entityTypeId=2", timeout=5).json()["time"]["operating"]
                 for _ in range(3)]
    assert 2.0 <= operating[0] < operating[1] < operating[2] and operating[2] > 5  # the call that crossed it ran
    blocked = requests.get(sb.webhook_url + "crm.item.list?entityTypeId=2", timeout=5)
    assert blocked.status_code == 429 and blocked.json()["error"] == "OPERATION_TIME_LIMIT"
    assert requests.get(sb.webhook_url + "crm.item.fields?entityTypeId=2", timeout=5).status_code == 200


def test_rest_error_injection_and_fault_state(sb):
    state = requests.post(sb.url + "/sandbox/faults", json={"rest_error_rate": 1, "rest_error_kind": "503"},
                          timeout=5).json()
    assert state["rest_error_rate"] == 1
    failed = requests.get(sb.webhook_url + "user.admin", timeout=5)
    assert failed.status_code == 503 and failed.json()["error"] == "QUERY_LIMIT_EXCEEDED"
    requests.post(sb.url + "/sandbox/faults", json={"rest_error_kind": "500"}, timeout=5)
    assert requests.get(sb.webhook_url + "user.admin", timeout=5).status_code == 500
    requests.post(sb.url + "/sandbox/faults", json={"rest_error_rate": 0}, timeout=5)
    assert requests.get(sb.webhook_url + "user.admin", timeout=5).status_code == 200
    assert requests.get(sb.url + "/sandbox/faults", timeout=5).json()["rest_error_rate"] == 0
    bad = requests.post(sb.url + "/sandbox/faults", json={"drop_events": 2}, timeout=5)
    assert bad.status_code == 400


def test_dropped_events_are_lost(sb, sink):
    from tests.sandbox.conftest import open_app

    session = open_app(sb, ["crm"])
    session.rest.call("event.bind", {"event": "ONCRMDEALADD", "handler": sink.url + "/e"})
    requests.post(sb.url + "/sandbox/faults", json={"drop_events": 1}, timeout=5)
    session.rest.call("crm.item.add", {"entityTypeId": 2, "fields": {"title": "lost"}})
    assert sb.portal.dispatcher.wait_idle() and sink.received == []
    assert sb.portal.deliveries[-1]["error"] == "dropped (fault)"


def test_enterprise_bucket_size_can_be_set(tmp_path):
    with SandboxServer(tmp_path / "p.db", rate_limit=True) as sb:
        state = requests.post(sb.url + "/sandbox/faults", json={"rate_burst": 60, "rate_per_second": 5},
                              timeout=5).json()
        assert state["rate_burst"] == 60 and state["rate_per_second"] == 5
        codes = [requests.get(sb.webhook_url + "user.admin", timeout=5).status_code for _ in range(56)]
    assert codes == [200] * 56


def test_serve_runs_the_self_hosted_profile_from_the_command_line(tmp_path):
    """`b24sandbox serve --profile selfhosted --missing-method …`: a partner developer gets the self-hosted
    portal (no cloud rate limit, an older CRM lacking a method) without writing Python."""
    import socket
    import subprocess
    import sys
    import time

    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "b24sandbox.cli", "serve", "--port", str(port),
                             "--state", str(tmp_path / "p.db"), "--profile", "selfhosted",
                             "--missing-method", "crm.item.list"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                state = requests.get(f"{base}/sandbox/faults", timeout=2).json()
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError("the sandbox did not start")
        assert state["profile"] == "selfhosted" and state["rate_limit"] is False
        assert state["missing_methods"] == ["crm.item.list"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
