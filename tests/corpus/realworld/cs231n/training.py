# CS231n Solver style: _step(), check_accuracy() that concatenates predictions.
import torch


def sgd_step(params, lr):
    """Performs vanilla stochastic gradient descent: w -= learning_rate * dw."""
    with torch.no_grad():
        for w in params:
            dw = w.grad
            if dw is not None:
                w.sub_(lr * dw)
    return None


def train_step(model, batch, loss_fn, optimizer):
    X_batch, y_batch = batch
    scores = model(X_batch)
    loss = loss_fn(scores, y_batch)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def train_epoch(model, loader, loss_fn, optimizer, device="cpu"):
    model.train()
    loss_history, sizes = [], []
    for X_batch, y_batch in loader:
        X_batch = X_batch.to(device)
        y_batch = y_batch.to(device)
        loss_history.append(train_step(model, (X_batch, y_batch), loss_fn, optimizer))
        sizes.append(X_batch.shape[0])
    return sum(l * n for l, n in zip(loss_history, sizes)) / sum(sizes)


def evaluate(model, loader, loss_fn, device="cpu"):
    was_training = model.training
    model.eval()
    try:
        y_pred, y_true, loss_sum = [], [], 0.0
        with torch.no_grad():
            for X, y in loader:
                X, y = X.to(device), y.to(device)
                scores = model(X)
                loss_sum += loss_fn(scores, y).item() * X.shape[0]
                y_pred.append(torch.argmax(scores, dim=1))
                y_true.append(y)
        y_pred, y_true = torch.cat(y_pred), torch.cat(y_true)
        acc = (y_pred == y_true).double().mean().item()
        return loss_sum / y_true.shape[0], acc
    finally:
        model.train(was_training)
