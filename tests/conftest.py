import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Keep test runs from writing into the user's cache and data directories.
os.environ.setdefault("PCDASH_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".pytest_cache", "pcdash"))

import tempfile  # noqa: E402

# AppTests run pages in this process: no background warm-up beside the tests (the browser
# tests start their own server with it on).
os.environ.setdefault("PCDASH_WARMUP", "0")
# Saved runs go to a fresh folder per test session, so a page never finds an old result.
os.environ["PCDASH_RUNS_DIR"] = tempfile.mkdtemp(prefix="pcdash-runs-")
# ... nor a shipped one (assets/runs): the tests of the assets turn it back on where they need it.
os.environ["PCDASH_ASSETS_DIR"] = ""

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def tree_allclose(a, b, rtol=1e-5, atol=1e-6) -> bool:
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return len(la) == len(lb) and all(np.allclose(x, y, rtol=rtol, atol=atol) for x, y in zip(la, lb, strict=True))


@pytest.fixture(scope="session", autouse=True)
def _compile_cache():
    from pcdash.compile_cache import enable_compile_cache

    enable_compile_cache()
