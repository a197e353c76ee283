"""Shared fixtures: example modules are built once per test session (TensorFlow work is slow)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def modules_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("modules")


@pytest.fixture(scope="session")
def fruit_dir(modules_dir):
    """The TF2 fruit module: "default" (x) and "fruit_to_pet" (apples, oranges -> cats, dogs)."""
    from hubfn import examples

    return examples.fruit_module(modules_dir / "fruit")


@pytest.fixture(scope="session")
def tf1_dir(modules_dir):
    """The TF1 hub-format module with graph variants {} and {"train"}."""
    from hubfn import examples

    return examples.tf1_hub_module(modules_dir / "tf1")


@pytest.fixture(scope="session")
def hparams_dir(modules_dir):
    """A TF2 module whose __call__(x, a=1., b=0.) -> a * x + b takes tensor hyperparameters with defaults."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x"), tf.TensorSpec([], tf.float32),
                                  tf.TensorSpec([], tf.float32)])
    def call(x, a=1.0, b=0.0):
        return a * x + b

    root = tf.Module()
    root.__call__ = call
    path = str(modules_dir / "hparams")
    tf.saved_model.save(root, path, signatures={})
    return path


@pytest.fixture(scope="session")
def shape_dir(modules_dir):
    """shape_dir(name) -> the directory of one module shape from tests/shapes.py, built once per session."""
    import shapes

    built = {}

    def get(name):
        if name not in built:
            built[name] = shapes.BUILDERS[name](modules_dir / f"shape_{name}")
        return built[name]

    return get


def _shape_fixture(name):
    @pytest.fixture(scope="session", name=f"{name}_dir")
    def fixture(shape_dir):
        return shape_dir(name)

    fixture.__doc__ = f"The {name!r} module shape (tests/shapes.py)."
    return fixture


for _name in ("text_embedding", "text_embedding_serving", "image_feature_vector", "image_keras_hubfn",
              "image_keras_export", "bert_encoder", "bert_encoder_keras", "bert_preprocessor",
              "bert_preprocessor_garden", "tf1_text", "tf1_image", "tf1_sparse", "ragged", "mixed", "bare_call"):
    globals()[f"_{_name}_dir"] = _shape_fixture(_name)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A fresh, empty TFHUB_CACHE_DIR for one test."""
    path = tmp_path / "cache"
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(path))
    monkeypatch.delenv("HUBFN_OFFLINE", raising=False)
    return path


# --- HTTP test servers (tests/servers.py), one per test module ------------------------------------
@pytest.fixture(scope="module")
def server():
    """A programmable module server on 127.0.0.1 (routes, faults, request log)."""
    import servers

    with servers.ModuleServer() as s:
        yield s


@pytest.fixture(scope="module")
def fruit_tgz(fruit_dir):
    """The fruit module as tar.gz bytes, rooted at the module directory."""
    import servers

    return servers.targz(fruit_dir)


# Figures a test measured (a set-up's duration, the versions it kept), shown at the end of the run, before
# pytest's summary line, so the CI log carries them.
_FIGURES = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def report_figure(pytestconfig):
    """report_figure("...") adds a line to the end-of-run "measured" section."""
    return pytestconfig.stash.setdefault(_FIGURES, []).append


def pytest_terminal_summary(terminalreporter, config):
    lines = config.stash.get(_FIGURES, [])
    if lines:
        terminalreporter.section("measured")
        for line in lines:
            terminalreporter.write_line(line)
