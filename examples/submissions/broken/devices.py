"""An example student whose module never finishes importing."""

while True:
    pass
