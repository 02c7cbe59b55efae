"""Stand-alone systems built on l2l's core, kept apart from it.

- `l2l.systems.reconstruction`: recognition as reconstruction, one meta-learned
  reconstruction model per class (`ReconstructionClassifier`), and `adaptation_trace`, what
  one of them makes of an image before and after adapting (reconstruction, hidden units).
- `l2l.systems.pixel_baselines`: the pixel-space classifiers set beside it (k-NN with k by
  leave-one-out, a small CNN), on whole images or on only the pixels an episode shows.
- `l2l.systems.transfer`: transfer by activation, keeping the hidden units new data switches
  on (`transfer_by_activation`).

Example:

>>> from l2l.systems.transfer import kept_units
>>> import numpy as np
>>> kept_units([np.array([[0.0, 1.0]])], threshold=0.5)[0].tolist()
[False, True]
"""
