import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Keep test runs from writing into the user's cache and data directories.
os.environ.setdefault(
    "PCDASH_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".pytest_cache", "pcdash")
)

import tempfile  # noqa: E402

# AppTests run pages in this process: no background warm-up beside the tests (the browser
# tests start their own server with it on).
os.environ.setdefault("PCDASH_WARMUP", "0")
# Saved runs go to a fresh folder per test session, so a page never finds an old result.
os.environ["PCDASH_RUNS_DIR"] = tempfile.mkdtemp(prefix="pcdash-runs-")
# ... nor a shipped one (assets/runs): the tests of the assets turn it back on where they need it.
os.environ["PCDASH_ASSETS_DIR"] = ""

import jax  # noqa: E402

# Equinox-style: an implicit dtype promotion in pcdash is an error in every test (third-party
# optimisers run under standard promotion, pcdash/promotion.py).
jax.config.update("jax_numpy_dtype_promotion", "strict")
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def tree_allclose(a, b, rtol=1e-5, atol=1e-6) -> bool:
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return len(la) == len(lb) and all(
        np.allclose(x, y, rtol=rtol, atol=atol) for x, y in zip(la, lb, strict=True)
    )


_PAPER_RUNS: dict[str, tuple] = {}


@pytest.fixture(scope="session")
def paper_run():
    """``paper_run(experiment)`` → ``(config, result, seconds)``: the quick run of a catalogue
    experiment (pcdash.paper.EXPERIMENTS), trained once per test session and shared by every test
    that checks a figure or claim of it."""
    import time

    from pcdash.paper import EXPERIMENTS
    from pcdash.paper.runners import run

    def get(name: str) -> tuple:
        if name not in _PAPER_RUNS:
            exp = EXPERIMENTS[name]
            config = exp.config()
            start = time.perf_counter()
            result = run(exp.kind, config)
            _PAPER_RUNS[name] = (config, result, time.perf_counter() - start)
        return _PAPER_RUNS[name]

    return get


@pytest.fixture(scope="session", autouse=True)
def _compile_cache():
    from pcdash.compile_cache import enable_compile_cache

    enable_compile_cache()
