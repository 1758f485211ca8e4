"""The CRE pages say which paper figure they show and how their settings differ from the paper's
(text generated from the running configuration), and handle the fixed-latent cnn / vit honestly."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pcdash.experiments.cre_config import CREConfig
from pcdash.paper.cre_notes import PAPER_STEPS, differences, figure_line

APP = Path(__file__).resolve().parents[1] / "app.py"


def _app(page: str, **params) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def _text(at: AppTest) -> str:
    return "\n".join(
        [c.value for c in at.caption]
        + [c.value for c in at.sidebar.caption]
        + [i.value for i in at.info]
    )


@pytest.mark.parametrize(
    "page,figure",
    [
        ("views/home.py", "ESANN Fig. 2 (arXiv Fig. 3)"),
        ("views/tradeoff.py", "ESANN Fig. 2 (arXiv Fig. 3)"),
        ("views/latent_space.py", "ESANN Fig. 3, top row (arXiv Fig. 4)"),
        ("views/reconstructions.py", "ESANN Fig. 3, bottom row (arXiv Fig. 5)"),
        ("views/latent_dimension.py", "ESANN Fig. 4"),
    ],
)
def test_each_cre_page_names_its_paper_figure_and_the_settings_that_differ(page, figure):
    at = _app(page)
    text = _text(at)
    assert figure in text
    assert "dataset digits instead of" in text and "1,294 training images" in text
    assert "batch 16 × 15 epochs = 1,200 Adam steps instead of batch 512 × 10 epochs" in text
    # the note follows the controls: with the paper's learning-rate the sentence about it is gone
    assert "learning rate" not in text
    text = _text(_app(page, lr="0.003"))
    assert "learning rate 0.003 instead of 0.001" in text


def test_the_latent_dimension_page_uses_its_own_grids_in_view():
    at = _app("views/latent_dimension.py")
    keys = [t.key for t in at.sidebar.text_input]
    assert (
        "w_lams" not in keys and "w_dims" not in keys
    )  # no sidebar grid that the page would override
    assert [t.key for t in at.text_input] == ["w_ld_dims", "w_ld_lams"]
    assert "the sidebar's λ grid and dim(z) do not apply here" in _text(at)


@pytest.mark.parametrize("arch", ["cnn", "vit"])
def test_fixed_latent_architectures_are_explained_not_given_a_dim_z(arch):
    at = _app("views/tradeoff.py", arch=arch)
    text = _text(at)
    assert "w_dims" not in [t.key for t in at.sidebar.text_input]
    assert "fixed by the architecture" in text and "as the authors built it" in text
    at = _app("views/latent_dimension.py", arch=arch)
    assert any("has no dim(z) to vary" in i.value for i in at.info)
    assert not [b for b in at.button if b.label in ("Train", "Retrain")]


def test_differences_come_from_the_configuration():
    """The paper's own setting (MNIST, batch 512, 10 epochs, PyTorch init, Adam 1e-3) leaves only
    the seed count to report; each change from it adds its sentence."""
    paper = CREConfig(dataset="mnist", batch_size=512, epochs=10, init="authors")
    assert [d for d in differences("tradeoff", paper, 55_000) if "seed" not in d] == []
    assert PAPER_STEPS == 1170
    latent = differences(
        "latent",
        CREConfig(
            dataset="fashion_mnist",
            lambdas=(0.0, 0.5, 1.0),
            batch_size=512,
            epochs=10,
            init="authors",
        ),
    )
    assert latent == ["λ = 0, 0.5, 1 instead of 0, 0.2, 1"]
    assert any("initialisation" in d for d in differences("latent", CREConfig()))
    assert "ESANN Fig. 4" in figure_line("latent_dimension") and "95%" in figure_line(
        "latent_dimension"
    )
