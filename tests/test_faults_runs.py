"""Fault injection on the run store: every kind of damaged run is one clear message (never a
crash, never partial results), the Runs page lists damaged runs with Delete, Delete accepts only
run ids inside the runs folder and never follows links, and kill -9 at random moments of a save
never loses a run."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pcdash.errors import PcdashError
from pcdash.runs import delete_run, list_runs, load_run, save_run, sweep_stale

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"


def _frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "member": np.arange(n) % 4,
            "epoch": np.arange(n) // 4,
            "split": ["val", "test"] * (n // 2),
            "accuracy": rng.uniform(size=n),
            "diverged": np.zeros(n, bool),
        }
    )


def _save_arrays() -> dict[str, np.ndarray]:
    return {
        "x": np.random.default_rng(1).normal(size=(20, 8)).astype(np.float32),
        "y": np.arange(20),
    }


def _save(root: Path, key: str) -> Path:
    arrays = _save_arrays()
    table = pd.DataFrame({"set": ["ID", "OOD"] * 10, "score": np.linspace(0, 1, 20)})
    return save_run(
        key,
        "cre",
        {"dataset": "digits", "arch": "fc-small"},
        _frame(),
        arrays,
        {"seconds": 1.5},
        root=root,
        tables={"scores": table},
    )


def _reseal(run: Path, name: str) -> None:
    """Make the manifest agree with a changed file's bytes (a consistent but wrong file, as a
    buggy writer would leave): only the structural checks can catch what is wrong then."""
    manifest = run / "manifest.json"
    if not manifest.exists():  # older pcdash: nothing to reseal
        return
    m = json.loads(manifest.read_text())
    data = (run / name).read_bytes()
    m["files"][name].update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    manifest.write_text(json.dumps(m))


def _cut(fraction: float, at_line: bool = False):
    def damage(run: Path, name: str) -> None:
        data = (run / name).read_bytes()
        n = int(len(data) * fraction)
        if at_line:
            n = data.rindex(b"\n", 0, n) + 1
        (run / name).write_bytes(data[:n])

    return damage


def _flip(run: Path, name: str) -> None:
    data = bytearray((run / name).read_bytes())
    data[len(data) // 2] ^= 0x10
    (run / name).write_bytes(bytes(data))


def _write(content: bytes, reseal: bool = False):
    def damage(run: Path, name: str) -> None:
        (run / name).write_bytes(content)
        if reseal:
            _reseal(run, name)

    return damage


def _drop_column(run: Path, name: str) -> None:
    pd.read_csv(run / name).drop(columns=["accuracy"]).to_csv(run / name, index=False)
    _reseal(run, name)


def _drop_array(run: Path, name: str) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, x=np.zeros((20, 8), np.float32))
    (run / name).write_bytes(buf.getvalue())
    _reseal(run, name)


def _drop_array_and_its_manifest_entry(run: Path, name: str) -> None:
    """Files and manifest agree, yet an array the page needs is missing (a writer's bug)."""
    _drop_array(run, name)
    m = json.loads((run / "manifest.json").read_text())
    m["files"][name]["arrays"].pop("y")
    (run / "manifest.json").write_text(json.dumps(m))


def _object_array(run: Path, name: str) -> None:
    buf = io.BytesIO()
    np.savez(
        buf, x=np.array([{"a": 1}, None], dtype=object), y=np.arange(20)
    )  # needs pickle to load
    (run / name).write_bytes(buf.getvalue())
    _reseal(run, name)


def _append_rows(run: Path, name: str) -> None:
    with open(run / name, "ab") as fh:
        fh.write(b"99,99,test,0.5,False\n")


def _remove(run: Path, name: str) -> None:
    (run / name).unlink()


def _folder_is_file(run: Path, name: str) -> None:
    import shutil

    shutil.rmtree(run)
    run.write_bytes(b"not a folder")


def _folder_is_link(run: Path, name: str) -> None:
    import shutil

    shutil.rmtree(run)
    target = run.parent.parent / f"outside-{run.name}"
    target.mkdir(exist_ok=True)
    (target / "keep.txt").write_text("must survive a delete")
    run.symlink_to(target, target_is_directory=True)


# (name, file, damage): every way a run on disk can be damaged that we could think of
DAMAGES = [
    ("config-missing", "config.json", _remove),
    ("config-empty", "config.json", _write(b"")),
    ("config-truncated", "config.json", _cut(0.5)),
    ("config-not-json", "config.json", _write(b"\x00\xff garbage {")),
    ("config-a-list", "config.json", _write(b"[1, 2, 3]", reseal=True)),
    (
        "config-wrong-types",
        "config.json",
        _write(b'{"kind": 3, "config": "x", "meta": []}', reseal=True),
    ),
    ("config-bitflip", "config.json", _flip),
    ("results-missing", "results.csv", _remove),
    ("results-empty", "results.csv", _write(b"")),
    ("results-truncated-mid-line", "results.csv", _cut(0.5)),
    ("results-truncated-at-a-line", "results.csv", _cut(0.5, at_line=True)),
    (
        "results-truncated-resealed",
        "results.csv",
        lambda r, n: (_cut(0.5, at_line=True)(r, n), _reseal(r, n)),
    ),
    ("results-missing-column", "results.csv", _drop_column),
    ("results-bitflip", "results.csv", _flip),
    ("results-extra-rows", "results.csv", _append_rows),
    ("arrays-missing", "arrays.npz", _remove),
    ("arrays-empty", "arrays.npz", _write(b"")),
    ("arrays-truncated", "arrays.npz", _cut(0.6)),
    ("arrays-bitflip", "arrays.npz", _flip),
    ("arrays-not-a-zip", "arrays.npz", _write(b"not a zip", reseal=True)),
    ("arrays-missing-array", "arrays.npz", _drop_array),
    ("arrays-pickled-object", "arrays.npz", _object_array),
    ("table-truncated", "table_scores.csv", _cut(0.4)),
    ("table-missing", "table_scores.csv", _remove),
    ("manifest-truncated", "manifest.json", _cut(0.5)),
    ("manifest-wrong-shape", "manifest.json", _write(b'{"format": 1, "files": []}')),
    ("folder-is-a-file", "", _folder_is_file),
    ("folder-is-a-link", "", _folder_is_link),
]


def _damaged_run(root: Path, name: str, file: str, damage) -> str:
    key = f"dmg-{name}"
    damage(_save(root, key), file)
    return key


def test_the_matrix_has_at_least_16_kinds_of_damage():
    assert len(DAMAGES) >= 16


@pytest.mark.parametrize("name,file,damage", DAMAGES, ids=[d[0] for d in DAMAGES])
def test_a_damaged_run_is_one_clear_message_and_listed_as_damaged(tmp_path, name, file, damage):
    root = tmp_path / "runs"
    root.mkdir()
    key = _damaged_run(root, name, file, damage)
    with pytest.raises(PcdashError) as err:
        load_run(key, root=root)
    message = str(err.value)
    assert "damaged" in message and "\n" not in message and "Traceback" not in message
    assert message.startswith(f"saved run {key} is damaged")
    runs = list_runs(root)
    row = runs.set_index("key").loc[key]
    assert row["status"] not in ("ok", "unverified") and "damaged" in row["status"]
    delete_run(key, root=root)
    assert key not in set(list_runs(root)["key"])
    if name == "folder-is-a-link":  # the link went, what it pointed to stayed
        assert (tmp_path / f"outside-{key}" / "keep.txt").read_text() == "must survive a delete"


def test_an_intact_run_round_trips_with_its_checksums(tmp_path):
    _save(tmp_path, "good")
    run = load_run("good", root=tmp_path)
    assert run.verified and run.kind == "cre" and len(run.frame) == 40
    pd.testing.assert_frame_equal(run.frame, _frame())
    manifest = json.loads((tmp_path / "good" / "manifest.json").read_text())
    assert manifest["files"]["results.csv"]["rows"] == 40
    assert set(manifest["files"]) == {
        "config.json",
        "results.csv",
        "arrays.npz",
        "table_scores.csv",
    }
    assert list_runs(tmp_path)["status"].tolist() == ["ok"]
    # the arrays come back bit for bit, from a deflated archive that plain np.load reads
    with np.load(tmp_path / "good" / "arrays.npz", allow_pickle=False) as saved:
        for name, want in {"x": _save_arrays()["x"], "y": np.arange(20)}.items():
            assert saved[name].dtype == want.dtype
            np.testing.assert_array_equal(saved[name], want)
            np.testing.assert_array_equal(run.arrays[name], want)
    with zipfile.ZipFile(tmp_path / "good" / "arrays.npz") as archive:
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_DEFLATED}


def test_a_run_saved_before_manifests_still_loads_but_a_cut_last_line_is_caught(tmp_path):
    _save(tmp_path, "legacy")
    (tmp_path / "legacy" / "manifest.json").unlink()
    run = load_run("legacy", root=tmp_path)
    assert run is not None and not run.verified and len(run.frame) == 40
    _cut(0.5)(tmp_path / "legacy", "results.csv")
    with pytest.raises(PcdashError, match="truncated"):
        load_run("legacy", root=tmp_path)


@pytest.mark.parametrize(
    "key", ["..", ".", "../runs", "a/b", "", "/etc", "..\\x", "x\x00y", "k" * 200, ".hidden"]
)
def test_delete_accepts_only_run_ids_inside_the_runs_folder(tmp_path, key):
    root = tmp_path / "cache" / "runs"
    root.mkdir(parents=True)
    _save(root, "keep-me")
    (tmp_path / "cache" / "data.bin").write_bytes(b"precious")
    with pytest.raises(PcdashError, match="not a run id"):
        delete_run(key, root=root)
    assert (
        tmp_path / "cache" / "data.bin"
    ).read_bytes() == b"precious"  # '..' used to wipe the cache folder
    assert load_run("keep-me", root=root) is not None


def test_delete_reports_a_missing_run_and_a_refusal_as_one_line(tmp_path):
    with pytest.raises(PcdashError, match="no saved run"):
        delete_run("nothing-here", root=tmp_path)
    _save(tmp_path, "locked")
    os.chmod(tmp_path, 0o500)
    try:
        if os.access(tmp_path, os.W_OK):  # root ignores the mode: nothing to refuse here
            return
        with pytest.raises(PcdashError, match="could not delete run locked"):
            delete_run("locked", root=tmp_path)
    finally:
        os.chmod(tmp_path, 0o700)


def test_stale_temporary_folders_are_swept_and_a_renamed_aside_run_is_put_back(tmp_path):
    _save(tmp_path, "a")
    dead = 2**22 + 12345  # above the default pid_max: no such process
    (tmp_path / f".a.tmp-{dead}-ab12").mkdir()  # a save killed before its swap
    (tmp_path / f".b.del-{dead}-cd34").mkdir()  # a delete killed before its rmtree
    _save(tmp_path, "c")
    os.rename(
        tmp_path / "c", tmp_path / f".c.old-{dead}-ef56"
    )  # a save killed between its two renames
    (tmp_path / f".d.tmp-{os.getpid()}-0a0b").mkdir()  # a save in progress in this process: kept
    done = sweep_stale(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".d.tmp-{os.getpid()}-0a0b", "a", "c"]
    assert len(done) == 3 and load_run("c", root=tmp_path).verified


def _page(params: dict | None = None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at


def test_the_runs_page_lists_damaged_runs_with_a_message_and_delete(tmp_path, monkeypatch):
    monkeypatch.setenv("PCDASH_RUNS_DIR", str(tmp_path / "runs"))
    root = tmp_path / "runs"
    root.mkdir()
    _save(root, "intact")
    keys = [_damaged_run(root, *d) for d in DAMAGES]
    from pcdash.ui.server import job_manager

    job_manager().adopt("dmg-arrays-bitflip", "a result a page loaded earlier", object())
    at = _page(page="views/runs.py")
    assert not at.exception, at.exception
    table = at.dataframe[0].value.set_index("key")
    assert (table.loc[keys, "status"] == "damaged").all() and table.loc["intact", "status"] == "ok"
    for key in (
        "dmg-arrays-bitflip",
        "dmg-config-a-list",
        "dmg-results-truncated-at-a-line",
        "dmg-folder-is-a-link",
    ):
        at.selectbox[0].set_value(key).run()
        assert not at.exception, at.exception
        assert any("damaged" in e.value for e in at.error), [e.value for e in at.error]
        [delete] = [b for b in at.button if b.label == "Delete this run"]
        delete.click().run()
        assert not at.exception, at.exception
        assert key not in set(list_runs(root)["key"])
    assert (tmp_path / "outside-dmg-folder-is-a-link" / "keep.txt").exists()
    assert (
        job_manager().get("dmg-arrays-bitflip") is None
    )  # forgotten in memory too: no page shows it again


def test_a_page_whose_saved_run_is_damaged_says_so_and_can_train_again(tmp_path, monkeypatch):
    from pcdash.experiments.cre_config import CREConfig

    monkeypatch.setenv("PCDASH_RUNS_DIR", str(tmp_path))
    config = CREConfig(
        dataset="digits", arch="fc-small", lambdas=(0.0, 1.0), seeds=1, epochs=1, batch_size=128
    )
    params = {"arch": "fc-small", "lams": "0,1", "seeds": "1", "epochs": "1", "batch": "128"}
    for damage in (
        _flip,
        _drop_array_and_its_manifest_entry,
    ):  # caught by the checksums; consistent but unusable
        _save(tmp_path, config.key())
        damage(tmp_path / config.key(), "arrays.npz")
        from pcdash.ui.server import job_manager

        job_manager().forget(config.key())
        at = _page(params, "views/tradeoff.py")
        assert not at.exception, at.exception
        assert any(config.key() in e.value for e in at.error), [e.value for e in at.error]
        assert [b for b in at.button if b.key == "tradeoff_train"], "no Train button"


# ------------------------------------------------------------------------------ kill -9 while
# saving

VICTIM = """
import sys
import numpy as np, pandas as pd
from pathlib import Path
from pcdash.runs import save_run
root, version = Path(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(version)
print("ready", flush=True)
while True:
    frame = pd.DataFrame({"version": np.full(3000, version), "v": rng.normal(size=3000)})
    weights = {"w": rng.normal(size=(200, 200)).astype(np.float32)}
    save_run("victim", "test", {"version": version}, frame, weights,
             {"version": version}, root=root, tables={"t": frame.head(100)})
    print(version, flush=True)
    version += 1
"""


def test_kill_9_at_random_moments_of_saving_never_loses_the_run(tmp_path):
    """Twelve kills at random moments of a loop of saves (half with the atomic exchange, half
    with the rename-aside fallback). After each, what a restarted server sees (a sweep, then a
    load) is the last completed version or the one being written, whole and verified."""
    root = tmp_path / "runs"
    root.mkdir()
    frame = pd.DataFrame({"version": np.zeros(3000, int), "v": np.zeros(3000)})
    save_run(
        "victim",
        "test",
        {"version": 0},
        frame,
        {},
        {"version": 0},
        root=root,
        tables={"t": frame.head(100)},
    )
    rng = random.Random(11)
    done, mid_save, kills = 0, 0, 0
    for i in range(12):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PCDASH_NO_EXCHANGE": "1" if i % 2 else "0"}
        proc = subprocess.Popen(
            [sys.executable, "-c", VICTIM, str(root), str(done + 1)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        kills += proc.returncode == -signal.SIGKILL
        finished = [int(v) for v in out.split()]
        last = finished[-1] if finished else done
        mid_save += any(p.name.startswith(".victim.") for p in root.iterdir())
        sweep_stale(root)  # what a new server process does first
        run = load_run("victim", root=root)
        assert run is not None and run.verified, f"kill {i}: the run was lost"
        version = int(run.meta["version"])
        assert version in (last, last + 1), (version, last)
        assert set(run.frame["version"]) == {version} and len(run.frame) == 3000
        assert not [p for p in root.iterdir() if p.name != "victim"], list(root.iterdir())
        done = version
    assert kills == 12 and done > 0
    print(f"kill -9: {kills} kills, {mid_save} with a save in flight, 0 runs lost")
