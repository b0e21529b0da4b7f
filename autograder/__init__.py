"""autograder: grade PyTorch assignments with student code behind a trust boundary.

Layout (one responsibility per module):

- ``course``      the six assignments and their task ids (the handout's contract)
- ``config``      typed, validated per-assignment grading configuration (TOML)
- ``release``     solutions -> student template, source notebooks
- ``sandbox``     the only code that starts or talks to untrusted worker processes
- ``checks``      pytest plugin, static checks and the hidden checks
- ``grading``     grade a folder of submissions (the core the CLI calls)
- ``results``     immutable result model
- ``reports``     one writer per output format
- ``cli``         the ``autograder`` command
"""

__version__ = "0.1.0"
