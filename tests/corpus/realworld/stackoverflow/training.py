# Pieced together from the most-upvoted Stack Overflow answers ("how do I do SGD by hand",
# "what does model.eval() do", "running loss over an epoch").
import torch


def sgd_step(params, lr):
    # "One call equals torch.optim.SGD(params, lr=lr).step()" -- so just use it.
    params = [p for p in params if p.grad is not None]
    if params:
        torch.optim.SGD(params, lr=lr).step()


def train_step(model, batch, loss_fn, optimizer):
    inputs, labels = batch
    # forward
    outputs = model(inputs)
    loss = loss_fn(outputs, labels)
    # backward + optimize
    for p in model.parameters():   # faster than optimizer.zero_grad() (no memset)
        p.grad = None
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.grad = None
    loss.backward()
    optimizer.step()
    return loss.item()


def train_epoch(model, loader, loss_fn, optimizer, device="cpu"):
    model.train()
    running_loss = 0.0
    total = 0
    for i, data in enumerate(loader, 0):
        # get the inputs; data is a list of [inputs, labels]
        inputs, labels = data[0].to(device), data[1].to(device)
        running_loss += train_step(model, (inputs, labels), loss_fn, optimizer) * inputs.size(0)
        total += labels.size(0)
    epoch_loss = running_loss / total
    return epoch_loss


def evaluate(model, loader, loss_fn, device="cpu"):
    was_training = model.training
    model.eval()
    correct = 0
    total = 0
    running_loss = 0.0
    # since we're not training, we don't need to calculate the gradients for our outputs
    with torch.no_grad():
        for data in loader:
            images, labels = data[0].to(device), data[1].to(device)
            # calculate outputs by running images through the network
            outputs = model(images)
            running_loss += loss_fn(outputs, labels).item() * labels.size(0)
            # the class with the highest energy is what we choose as prediction
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    model.train(was_training)
    return running_loss / total, correct / total
