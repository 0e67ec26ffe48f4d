"""A user's model: a small transformer encoder as the feature network, with a residual
linear head, written without resclaims in mind (its own names: ``encoder``, ``mix``,
``readout``).  The adapter says how to build it for the sizes a claim asks and which
tensors are the head w, the mixing V and the feature network F_theta of the residual
unit p(x) = w^T (x + V F_theta(x)):

    resclaims check --claims 'shamir2018.*' --subject examples.feature_net:adapter
"""
from __future__ import annotations

import torch
from torch import nn

from resclaims import Adapter


class TokenEncoder(nn.Module):
    """Reads x in R^d as d tokens (one scalar each), embeds them, runs one transformer
    encoder layer and mean-pools into m features (tanh-bounded)."""

    def __init__(self, d: int, m: int, width: int = 8, heads: int = 2) -> None:
        super().__init__()
        self.embed = nn.Linear(1, width)
        self.position = nn.Parameter(0.1 * torch.randn(d, width))
        self.layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=2 * width, dropout=0.0,
                                                batch_first=True)
        self.out = nn.Linear(width, m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x.unsqueeze(-1)) + self.position
        return torch.tanh(self.out(self.layer(tokens).mean(1)))


class ResidualHead(nn.Module):
    """y_hat = readout . (x + mix @ encoder(x))."""

    def __init__(self, d: int, m: int) -> None:
        super().__init__()
        self.encoder = TokenEncoder(d, m)
        self.mix = nn.Parameter(torch.randn(d, m) / m ** 0.5)
        self.readout = nn.Parameter(torch.randn(d) / d ** 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x + self.encoder(x) @ self.mix.T) @ self.readout


# --- resclaims adapter: the only resclaims-specific lines ------------------------------

def build(in_dim: int, features: int) -> ResidualHead:
    return ResidualHead(in_dim, features).eval()  # eval: no dropout, a deterministic loss


adapter = Adapter(build=build, parts={"head": lambda m: m.readout, "mixing": lambda m: m.mix,
                                      "features": lambda m: m.encoder},
                  fixed={"skip": "identity"})
