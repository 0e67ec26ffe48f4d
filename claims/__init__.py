"""Claims: one module per paper, each listing its ``Claim`` objects in ``CLAIMS``."""
