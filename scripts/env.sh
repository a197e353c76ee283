# Sourced by the scripts: quiet TensorFlow and point R at its own virtualenv, .venv-r (NumPy < 2, which
# Debian's reticulate 1.28 needs; made by `scripts/setup.sh --r`). Python itself runs from .venv.
export TF_CPP_MIN_LOG_LEVEL=2
export TF_ENABLE_ONEDNN_OPTS=0
export RETICULATE_PYTHON="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv-r/bin/python"
