"""An example student who tries to borrow the reference solution (not available in the sandbox)."""

from solutions.activations import *  # noqa: F401,F403
