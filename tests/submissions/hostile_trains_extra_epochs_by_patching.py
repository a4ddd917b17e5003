# The baseline, with the grader's TrainConfig patched from the submission's import so
# that the loop trains two epochs more than the budget allows (the probe of #29 did this
# under --quick: 3 epochs where 1 is allowed). The history then has more epochs than the
# budget; the report's "effective" epochs still say the allowed number.
import dataclasses

import grader.training.loop as loop

_init = loop.TrainConfig.__init__


def _more(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    if self.epochs >= 1 and self.batch_size > 1:  # training's config, not prediction's
        object.__setattr__(self, "epochs", self.epochs + 2)


loop.TrainConfig.__init__ = _more
assert dataclasses.is_dataclass(loop.TrainConfig)
EPOCHS = 5
