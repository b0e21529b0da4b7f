# micrograd's update (p.data += -lr * p.grad), nanoGPT's step, estimate_loss with @torch.no_grad().
import torch

def sgd_step(params, lr):
    for p in params:
        if p.grad is not None:
            p.data += -lr * p.grad

def train_step(model, batch, loss_fn, optimizer):
    X, Y = batch
    logits = model(X)
    loss = loss_fn(logits, Y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()

def train_epoch(model, loader, loss_fn, optimizer, device="cpu"):
    model.train()
    tot, n = 0.0, 0
    for X, Y in loader:
        X, Y = X.to(device), Y.to(device)
        lossf = train_step(model, (X, Y), loss_fn, optimizer)
        tot += lossf * X.size(0)
        n += X.size(0)
    return tot / n

@torch.no_grad()
def evaluate(model, loader, loss_fn, device="cpu"):
    was_training = model.training
    model.eval()
    tot, correct, n = 0.0, 0, 0
    for X, Y in loader:
        X, Y = X.to(device), Y.to(device)
        logits = model(X)
        tot += loss_fn(logits, Y).item() * X.size(0)
        correct += (logits.argmax(-1) == Y).sum().item()
        n += X.size(0)
    model.train(was_training)
    return tot / n, correct / n
