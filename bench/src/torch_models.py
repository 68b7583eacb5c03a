"""The PyTorch models the benchmarks time (torch_lstm.py on the CPU, torch_gpu.py on CUDA), written
the way the seed notebooks write them: seed 000's close-price LSTM and seed 003's portfolio LSTM."""

import torch
from torch import nn


class CloseModel(nn.Module):
    """Seed 000: LSTM(1, 4) -> Linear(4, 1) on the last hidden state."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(1, 4, batch_first=True)
        self.fc = nn.Linear(4, 1)

    def forward(self, x):
        _, (hn, _) = self.lstm(x)
        return self.fc(hn[-1])


class PortfolioModel(nn.Module):
    """Seed 003: LSTM(features, hidden) -> Linear(hidden, assets) -> softmax weights."""

    def __init__(self, features=8, hidden=64, assets=4):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, assets)

    def forward(self, x):
        _, (hn, _) = self.lstm(x)
        return torch.softmax(self.fc(hn[-1]), dim=1)


def neg_sharpe(weights, next_returns):
    """Negative Sharpe ratio of the next-day portfolio returns (seed 000's sharpe_loss)."""
    port = (weights * next_returns).sum(1)
    return -(port.mean() / port.std())
