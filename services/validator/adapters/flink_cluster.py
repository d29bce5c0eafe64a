"""A Flink cluster that lives as long as the validator: one MiniCluster inside PyFlink's JVM.

Local execution (`execution.target: local`) starts and stops a MiniCluster for every job, about
one second of every job however small (docs/flink-engine.md, "Where a validation's time goes").
`HotCluster` starts one MiniCluster with the engine, its endpoints on loopback, and every table
environment submits to it (`execution.target: remote` at its REST address), so a job pays for
its submission and its run only, and jobs of different validations share its task slots.

`jvm_classpath` puts the connector jars on the JVM's class path at launch (PyFlink's launcher
builds it from `FLINK_LIB_DIR`: here PyFlink's own lib plus the jars, as a Flink distribution
has its connectors in lib/). Then the planner finds the connectors on every gateway thread, and
the cluster's tasks load them from the parent class loader: no `pipeline.jars` to ship per job.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from services.flinksql.job_policy import LOOPBACK_OPTIONS

# Jobs of different validations run side by side up to this many (one slot each: parallelism 1).
DEFAULT_SLOTS = 4
_CLUSTER_OPTIONS = {
    **LOOPBACK_OPTIONS,
    "rest.port": "0",  # any free port, on loopback
    # Finished jobs are only polled for their result: keep few, briefly, so memory stays flat.
    "jobstore.max-capacity": "64",
    "jobstore.expiration-time": "300",
    # Batch (rewritten) cases sort and join in managed memory; split over the slots.
    "taskmanager.memory.managed.size": "256m",
}


def gateway_started() -> bool:
    """Whether this process already launched PyFlink's JVM (its class path is then fixed)."""
    from pyflink import java_gateway  # type: ignore[import-untyped]

    return java_gateway._gateway is not None


def jars_on_classpath(jars: Sequence[Path]) -> bool:
    """Every jar is on the running JVM's class path (by file name)."""
    from pyflink.java_gateway import get_gateway  # type: ignore[import-untyped]

    entries = {
        Path(p).name for p in get_gateway().jvm.System.getProperty("java.class.path").split(os.pathsep)
    }
    return all(jar.name in entries for jar in jars)


@contextlib.contextmanager
def jvm_classpath(jars: Sequence[Path]) -> Iterator[None]:
    """Within: a JVM PyFlink launches has `jars` on its class path (no effect once launched).

    The lib directory (symlinks to PyFlink's lib and the jars) lives as long as this process;
    the launcher's variables are set only while the JVM starts.
    """
    if not jars or gateway_started():
        yield
        return
    import pyflink

    home = Path(pyflink.__file__).resolve().parent
    lib = Path(tempfile.mkdtemp(prefix="sw-flink-lib-"))
    atexit.register(shutil.rmtree, lib, True)
    for jar in [*sorted((home / "lib").glob("*.jar")), *jars]:
        (lib / jar.name).symlink_to(jar.resolve())
    # FLINK_HOME too: without it PyFlink's launcher resets FLINK_LIB_DIR to its own lib.
    saved = {name: os.environ.get(name) for name in ("FLINK_HOME", "FLINK_LIB_DIR")}
    os.environ["FLINK_HOME"] = saved["FLINK_HOME"] or str(home)
    os.environ["FLINK_LIB_DIR"] = str(lib)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class HotCluster:
    """One started MiniCluster in PyFlink's JVM, and the options that send a job to it.

    `job_slots` admits as many jobs at once as the cluster has slots, so a job never waits in
    Flink's slot queue (where a timeout would read as a job failure).
    """

    def __init__(self, slots: int = DEFAULT_SLOTS) -> None:
        from pyflink.java_gateway import get_gateway

        jvm: Any = get_gateway().jvm
        config = jvm.org.apache.flink.configuration.Configuration()
        for key, value in {**_CLUSTER_OPTIONS, "taskmanager.numberOfTaskSlots": str(slots)}.items():
            config.setString(key, value)
        minicluster = jvm.org.apache.flink.runtime.minicluster
        built = (
            minicluster.MiniClusterConfiguration.Builder()
            .setConfiguration(config)
            .setNumTaskManagers(1)
            .setNumSlotsPerTaskManager(slots)
            .build()
        )
        self._cluster = minicluster.MiniCluster(built)
        self._cluster.start()
        address = self._cluster.getRestAddress().get()
        self.host: str = address.getHost()
        self.port: int = address.getPort()
        self.slots = slots
        self.job_slots = threading.BoundedSemaphore(slots)

    def job_options(self) -> dict[str, str]:
        """What a table environment sets so its jobs run here."""
        return {"execution.target": "remote", "rest.address": self.host, "rest.port": str(self.port)}

    def running(self) -> bool:
        return bool(self._cluster.isRunning())


_shared: list[HotCluster] = []  # the process's one cluster, once started
_shared_lock = threading.Lock()


def shared_cluster() -> HotCluster:
    """The process's hot cluster, started on first use: one JVM, one cluster, however many
    engines (tests create several). Raises what the start raised; it is tried again next call."""
    with _shared_lock:
        if not _shared or not _shared[0].running():
            _shared[:] = [HotCluster()]
        return _shared[0]
