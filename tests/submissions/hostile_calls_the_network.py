# Tries to reach a server on the grading machine (e.g. to send out data or fetch answers).
import socket

PORT = 47123  # tests/sandbox/test_isolation.py listens here on the grading machine


def build_model(info):
    for host in ("127.0.0.1", "1.1.1.1"):
        try:
            s = socket.create_connection((host, PORT), timeout=2)
            s.sendall(b"stolen")
            s.close()
            print("CONNECTED", host)
        except OSError as e:
            print("NO NETWORK", host, type(e).__name__)
    from torch import nn
    return nn.Sequential(nn.Flatten(), nn.Linear(info.in_channels * info.image_size[0] * info.image_size[1],
                                                 info.num_classes))


EPOCHS = 1
