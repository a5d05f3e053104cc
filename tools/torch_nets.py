"""coinbc's two networks in PyTorch, for the fixture generator
(tools/torch_ref.py) and the PyTorch peer benchmark (bench/torch_peer_train.py).
Parameters register in coinbc's tensor order, and the layouts are PyTorch's
(docs/FORMATS.md, checkpoints), so a state dict maps one to one."""
import torch.nn as nn
import torch.nn.functional as F


class Res(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c0 = nn.Conv2d(c, c, 3, padding=1)
        self.c1 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.c1(F.relu(self.c0(F.relu(x))))


class Impala(nn.Module):
    def __init__(self, ch=(16, 32, 32), hidden=256):
        super().__init__()
        layers, cin = [], 3
        for c in ch:
            layers += [nn.Conv2d(cin, c, 3, padding=1), nn.MaxPool2d(3, 2, padding=1), Res(c), Res(c)]
            cin = c
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(cin * 8 * 8, hidden)
        self.out = nn.Linear(hidden, 15)

    def forward(self, x):
        x = F.relu(self.body(x)).flatten(1)
        return self.out(F.relu(self.fc(x)))


class Nature(nn.Module):
    def __init__(self, ch=(32, 64, 64), hidden=512):
        super().__init__()
        self.c0 = nn.Conv2d(3, ch[0], 8, 4)
        self.c1 = nn.Conv2d(ch[0], ch[1], 4, 2)
        self.c2 = nn.Conv2d(ch[1], ch[2], 3, 1)
        self.fc = nn.Linear(ch[2] * 4 * 4, hidden)
        self.out = nn.Linear(hidden, 15)

    def forward(self, x):
        x = F.relu(self.c2(F.relu(self.c1(F.relu(self.c0(x))))))
        return self.out(F.relu(self.fc(x.flatten(1))))
