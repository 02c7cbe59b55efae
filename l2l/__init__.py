"""l2l: learner/predictor meta-networks in Keras 3.

A learner network reads the support set of a task and emits features and/or weights for a
predictor network, which answers queries about that task; both are trained end to end on a
stream of batched episodes, so a new task is learned in one forward pass.
"""

__version__ = "0.1.0"
