"""A writer process is killed with SIGKILL at a random moment; every write it saw
acknowledged must be in the store when it is reopened, and revisions must keep growing."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
from pathlib import Path

from certsmith.apiserver.storage import CompactionPolicy, ObjectKey, Store, StoreOptions

WRITER = """
import asyncio, sys
from certsmith.apiserver.storage import CompactionPolicy, ObjectKey, Store, StoreOptions

async def main(data_dir, round_):
    options = StoreOptions(compaction=CompactionPolicy(enabled=False))
    store = await Store.open(data_dir, options=options)
    async def writer(task):
        i = 0
        while True:
            name = f"r{round_}-t{task}-{i}"
            key = ObjectKey("cert-manager.io", "certificates", f"ns{task}", name)
            body = {"metadata": {"name": name, "namespace": f"ns{task}"}, "spec": {"n": i}}
            obj = await store.create(key, body)
            if i % 5 == 0:
                body["spec"]["n"] = -i
                obj = await store.update(key, body)
            sys.stdout.write(f"{task} {name} {obj['metadata']['resourceVersion']}\\n")
            sys.stdout.flush()
            i += 1
    await asyncio.gather(*(writer(t) for t in range(8)))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def run_and_kill(data_dir: Path, round_: int, kill_after: int) -> list[tuple[int, str, int]]:
    """Run the writer, SIGKILL it after ``kill_after`` acknowledgements, return them all."""
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data_dir), str(round_)], stdout=subprocess.PIPE
    )
    assert child.stdout is not None
    acked: list[tuple[int, str, int]] = []
    try:
        while len(acked) < kill_after:
            line = child.stdout.readline()
            assert line, "the writer process ended by itself"
            task, name, rv = line.decode().split()
            acked.append((int(task), name, int(rv)))
        child.send_signal(signal.SIGKILL)
        # Lines already written before the kill were acknowledged too.
        for rest in child.stdout.read().decode().splitlines():
            task, name, rv = rest.split()
            acked.append((int(task), name, int(rv)))
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return acked


async def test_every_acknowledged_write_survives_sigkill(tmp_path: Path):
    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)
    options = StoreOptions(compaction=CompactionPolicy(enabled=False))
    highest_seen = 0

    for round_ in range(3):
        kill_after = rnd.randint(20, 600)
        acked = await asyncio.to_thread(run_and_kill, tmp_path, round_, kill_after)

        async with await Store.open(tmp_path, options=options) as store:
            assert store.current_revision() >= max(rv for _, _, rv in acked), f"seed {seed}"
            for task, name, rv in acked:
                obj = await store.get(
                    ObjectKey("cert-manager.io", "certificates", f"ns{task}", name)
                )
                assert int(obj["metadata"]["resourceVersion"]) >= rv, f"seed {seed}"
            assert min(rv for _, _, rv in acked) > highest_seen, f"seed {seed}"
            probe = await store.create(
                ObjectKey("", "configmaps", "", f"after-{round_}"),
                {"metadata": {"name": f"after-{round_}"}},
            )
            highest_seen = int(probe["metadata"]["resourceVersion"])
            assert highest_seen > max(rv for _, _, rv in acked), f"seed {seed}"
