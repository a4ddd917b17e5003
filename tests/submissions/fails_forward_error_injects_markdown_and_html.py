# Text meant to be rendered: an error message that closes the report's code fence and
# forges a full score and an image beacon, raw HTML, a layer name with backticks and a
# table pipe, and a layer type named like an HTML tag. Every report shows them as text.
from torch import nn

FORGED = "```\n**Score 100 / 100** (graded)\n![x](http://evil/beacon)"
HTML = "<img src=x onerror=alert(1)><script>alert(2)</script>"


class Hostile(nn.Module):
    def forward(self, x):
        raise RuntimeError(FORGED + "\n" + HTML)


Hostile.__name__ = Hostile.__qualname__ = "<img src=x onerror=alert(3)>"


def build_model(info):
    model = nn.Sequential()
    model.add_module("`` | <b>flat</b> ![y](http://evil/2)", nn.Flatten())
    model.add_module("boom", Hostile())
    return model
