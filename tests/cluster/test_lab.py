"""scripts/swarm-lab.sh itself: `down` leaves nothing behind and is safe twice; `up` builds it again, and is a no-op
on a lab that is whole."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.cluster.conftest import NODES, Lab


def _leftovers() -> list[str]:
    found = []
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True, check=True).stdout
    found += [f"link {line.split()[0]}" for line in links.splitlines() if line.startswith(("tplab0", "tpl-"))]
    netns = Path("/var/run/netns")
    found += [f"netns {p.name}" for p in netns.iterdir() if p.name.startswith("lab-")] if netns.exists() else []
    mounts = Path("/proc/self/mounts").read_text()
    found += [f"mount {line.split()[1]}" for line in mounts.splitlines() if "tagpin-lab" in line]
    procs = subprocess.run(["pgrep", "-af", "tagpin-lab"], capture_output=True, text=True, check=False).stdout
    found += [f"process {line}" for line in procs.splitlines() if "pgrep" not in line]
    found += [f"dir {d}" for d in ("/var/lib/tagpin-lab", "/run/tagpin-lab") if Path(d).exists()]
    found += [f"cgroup {p}" for p in Path("/sys/fs/cgroup").glob("**/tagpin-lab-*")]
    return found


def test_down_leaves_nothing_and_up_builds_it_again(lab: Lab) -> None:
    started = time.monotonic()
    down = lab.script("down")
    took_down = time.monotonic() - started
    assert down.returncode == 0, down.stderr
    assert _leftovers() == []
    assert lab.script("down").returncode == 0             # twice: still fine, still nothing
    assert _leftovers() == []

    started = time.monotonic()
    up = lab.script("up")
    took_up = time.monotonic() - started
    assert up.returncode == 0, up.stderr
    print(f"\nlab down in {took_down:.1f} s, up again in {took_up:.1f} s")
    assert lab.wait_nodes(dict.fromkeys(NODES, "ready")) < 60
    again = lab.script("up")                              # whole already: nothing started
    assert again.returncode == 0 and "starting" not in again.stderr, again.stderr
    assert again.stdout == up.stdout                      # the same lines to eval
    for node in NODES:                                    # each node is its own host, with its own name
        assert lab.docker("info", "--format", "{{.Name}} {{.Swarm.LocalNodeState}}", node=node).split() == \
            [node, "active"]
