"""`observations`: filters, a sort and a limit; --limit 0 lists everything."""

from __future__ import annotations

from tests.support import SAMPLES, CliRunner, json_out


def test_filters_sort_and_limits(cli: CliRunner) -> None:
    cli("init", check=True)
    cli("ingest", *map(str, sorted(SAMPLES.iterdir())))
    every = json_out(cli("observations", "--json", check=True))
    assert len(every) > 3
    assert json_out(cli("observations", "--limit", "0", "--json", check=True)) == every
    assert len(json_out(cli("observations", "--limit", "2", "--json", check=True))) == 2

    by_events = json_out(cli("observations", "--sort", "events", "--json", check=True))
    counts = [row["event_count"] for row in by_events]
    assert counts == sorted(counts, reverse=True)

    service = every[0]["services"][0]
    only = json_out(cli("observations", "--service", service, "--json", check=True))
    assert only and all(service in row["services"] for row in only)
    assert {r["ip"] for r in only} == {r["ip"] for r in every if service in r["services"]}

    future = cli("observations", "--since", "2999-01-01", check=True)
    assert future.stdout.strip() == "no observations match"
    bad = cli("observations", "--since", "yesterday")
    assert bad.returncode == 1 and "YYYY-MM-DD" in bad.stderr


def test_status_shows_the_last_event_and_followed_sources(cli: CliRunner) -> None:
    cli("init", check=True)
    assert json_out(cli("status", "--json", check=True))["last_event"] is None
    cli("ingest", *map(str, sorted(SAMPLES.iterdir())))
    status = json_out(cli("status", "--json", check=True))
    assert status["last_event"].startswith("20") and status["followed_sources"] == []
    assert status["identities"] >= 1 and status["campaigns"] >= 1
    assert status["blind_questions"]["served"] is True and status["peers"] == []
    screen = cli("status", check=True).stdout
    assert f"last stored {status['last_event'][:19]})" in screen  # one time format in tables
    assert f"{status['observations']} observations, " in screen
    assert len(screen.splitlines()) <= 24  # one screen
    assert "blind questions   served yes" in screen
