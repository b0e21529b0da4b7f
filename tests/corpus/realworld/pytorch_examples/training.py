# Training loop in the style of pytorch/examples mnist/main.py (train() / test()).
import torch


def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            if p.grad is None:
                continue
            p.add_(p.grad, alpha=-lr)


def train_step(model, batch, loss_fn, optimizer):
    data, target = batch
    output = model(data)
    loss = loss_fn(output, target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def train_epoch(model, loader, loss_fn, optimizer, device="cpu"):
    model.train()
    running, seen = 0.0, 0
    for batch_idx, (data, target) in enumerate(loader):
        data, target = data.to(device), target.to(device)
        loss = train_step(model, (data, target), loss_fn, optimizer)
        running += loss * len(data)
        seen += len(data)
        if batch_idx % 100 == 0:
            pass  # the examples print progress here (log_interval)
    return running / seen


def evaluate(model, loader, loss_fn, device="cpu"):
    was_training = model.training
    model.eval()
    test_loss = 0
    correct = 0
    n = 0
    with torch.no_grad():
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += loss_fn(output, target).item() * data.size(0)  # mean loss -> sum
            pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()
            n += data.size(0)
    model.train(was_training)
    return test_loss / n, correct / n
