"""l2l: learner/predictor meta-networks in Keras 3.

A learner network reads the support set of a task and emits features and/or weights for a
predictor network, which answers queries about that task; both are trained end to end on a
stream of batched episodes, so a new task is learned in one forward pass.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `l2l.load_model`: Keras's load_model with clear errors (l2l.training.model_files),
    # imported on first use so that `import l2l` stays light.
    if name == "load_model":
        from l2l.training.model_files import load_model

        return load_model
    raise AttributeError(f"module 'l2l' has no attribute {name!r}")
