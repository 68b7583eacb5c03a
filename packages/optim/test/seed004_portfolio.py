"""Reference trajectory for seed 004's portfolio example (packages/autograd/test/seeds.test.ts).

The notebook built `cov_matrix` and `expected_returns` from yfinance data and printed them rounded to
four digits; this script reruns its cells with PyTorch from those rounded values, so the test can
assert gradfolio's trajectory from the same inputs exactly (float32 precision).

Run with: /usr/bin/python3 packages/autograd/test/seed004_portfolio.py   (torch 1.13)
"""

import torch
import torch.optim as optim

expected_returns = torch.tensor([0.2655, 0.1980, 0.1436])
cov_matrix = torch.tensor(
    [
        [0.1002, 0.0256, 0.0304],
        [0.0256, 0.0507, 0.0134],
        [0.0304, 0.0134, 0.1180],
    ]
)

weights = torch.tensor([0.33, 0.33, 0.34], requires_grad=True)


def portfolio_risk(weights, cov_matrix):
    weights_2d = weights.unsqueeze(0)  # (n,) -> (1, n)
    risk = torch.matmul(weights_2d, torch.matmul(cov_matrix, weights.unsqueeze(1)))
    return risk.squeeze()


def portfolio_return(weights, expected_returns):
    return torch.dot(weights, expected_returns)


optimizer = optim.SGD([weights], lr=0.01)

for epoch in range(500):
    optimizer.zero_grad()
    loss = portfolio_risk(weights, cov_matrix)
    loss.backward()
    optimizer.step()

    with torch.no_grad():
        weights[:] = torch.clamp(weights, min=0)
        weights /= weights.sum()

    if epoch % 50 == 0:
        print(f"Epoch {epoch}, Risk: {loss.item()}, Weights: {weights.tolist()}")

print("weights", weights.tolist())
print("return", portfolio_return(weights, expected_returns).item())
print("risk", portfolio_risk(weights, cov_matrix).item())
