"""A bounded crash soak (``make soak`` runs 300 kills): real ``syncer run`` processes killed with SIGKILL at random
instants against a sandbox in another process (some of them `syncer daemon`), and then nothing lost, duplicated or
mismatched: fields, CRM tasks and Slack alerts; and no rep over the daily alert cap."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.soak import SoakSettings, soak

KILLS = 30


def test_thirty_kills_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    tally = soak(tmp_path, SoakSettings(kills=KILLS, seed=5, accounts=400))
    assert tally.clean, tally.problems[:5]
    assert tally.kills == KILLS and tally.runs > KILLS  # every kill, plus the runs that ended on their own
    assert tally.kills_after_writing > 0  # some processes died with writes sent and not all committed
    assert 0 < tally.killed_runs_recorded <= KILLS  # found dead and recorded as killed by the next run
    assert tally.daemon_kills > 0 and tally.tasks > 0 and tally.alerts > 0  # daemons died too; effects were sent
