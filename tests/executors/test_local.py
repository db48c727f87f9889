"""--jobs workers (executors/local.py): each on its device, with its share of the cores."""
import pytest

from helpers import ROOT
from l2ral_lib.checks import load_params
from l2ral_lib.executors import local


def test_jobs_start_each_worker_on_its_gpu(monkeypatch, tmp_path):
    """run_jobs hands worker i the device of worker_devices and its share of the cores (no GPU needed: the
    processes are recorded)."""
    started, threads = [], []
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(local.os, "sched_getaffinity", lambda pid: set(range(7)))

    class Worker:
        def __init__(self, command, env):
            started.append(command)
            threads.append(env["OMP_NUM_THREADS"])

        def wait(self):
            return 0

    monkeypatch.setattr(local.subprocess, "Popen", Worker)
    monkeypatch.setattr("l2ral_lib.executors.local.merge_results", lambda out: None)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 2)
    params = load_params(ROOT / "params" / "cifar10-ci.yaml", {"strategies": ["random", "entropy", "l2r"]})
    assert local.run_jobs("params/cifar10-ci.yaml", params, tmp_path, jobs=3, device="cuda") == 0
    devices = [command[command.index("--device") + 1] for command in started]
    assert devices == ["cuda:0", "cuda:1", "cuda:0"]
    # no static split: every worker runs the whole study, taking the next slice nobody holds (a shared queue)
    assert all("--only" not in command and "--no-verdict" in command for command in started)
    assert threads == ["2", "2", "2"]  # 7 cores // 3 workers
    started.clear()
    assert local.run_jobs("params/cifar10-ci.yaml", params, tmp_path, jobs=5, device="cuda", only=[("l2r", 0)]) == 0
    assert [command[command.index("--only") + 1:command.index("--device")] for command in started] == [["l2r:0"]]


@pytest.mark.parametrize("devices,cores,environ,expected", [
    (["cuda:0", "cuda:1"], 2, {}, "1"), (["cuda:0"] * 3, 8, {}, "2"), (["cuda:0"] * 4, 2, {}, "1"),
    (["cuda:1"], 16, {}, "16"), (["cuda:0", "cuda:1"], 8, {"OMP_NUM_THREADS": "3"}, "3"),
    (["cpu", "cpu"], 8, {}, None), (["auto", "auto"], 8, {}, None), (["cpu"] * 2, 8, {"OMP_NUM_THREADS": "3"}, "3")])
def test_gpu_workers_share_the_cores_cpu_workers_keep_one_process_count(devices, cores, environ, expected):
    """CPU numbers depend on the thread count: CPU workers must compute what one process computes."""
    assert local.worker_env(devices, {"PATH": "/bin", **environ}, cores).get("OMP_NUM_THREADS") == expected
