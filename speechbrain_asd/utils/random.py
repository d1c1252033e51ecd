"""A torch.Generator whose state is saved in SpeechBrain checkpoints.

The augmentations draw from this generator instead of the global one, so that an interrupted
run resumed from a checkpoint draws exactly what the uninterrupted run drew: the global
generator is also consumed by DataLoader set-up, which differs between the two.

Authors
 * speechbrain-asd developers 2026
"""

import torch
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks


@register_checkpoint_hooks
class CheckpointedGenerator:
    """Lazily creates a seeded generator on the device where it is first needed.

    Arguments
    ---------
    seed : int
        Seed of the generator.

    Example
    -------
    >>> gen = CheckpointedGenerator(seed=3)
    >>> a = torch.rand(2, generator=gen.get("cpu"))
    >>> torch.equal(a, torch.rand(2, generator=torch.Generator().manual_seed(3)))
    True
    """

    def __init__(self, seed=0):
        self.seed = int(seed)
        self._generator = None
        self._pending_state = None

    def get(self, device):
        """The generator on ``device`` (created and seeded, or restored, on first use).

        Arguments
        ---------
        device : str or torch.device
            Device of the tensors drawn.

        Returns
        -------
        torch.Generator
        """
        device = torch.device(device)
        if self._generator is None or self._generator.device.type != device.type:
            self._generator = torch.Generator(device=device)
            self._generator.manual_seed(self.seed)
            if self._pending_state is not None:
                state, saved_device = self._pending_state
                if saved_device != device.type:
                    raise RuntimeError(
                        f"the augmentation generator was saved on {saved_device} and cannot be "
                        f"restored on {device.type}: resume on the same kind of device"
                    )
                self._generator.set_state(state)
                self._pending_state = None
        return self._generator

    @mark_as_saver
    def _save(self, path):
        if self._generator is None:
            state = None if self._pending_state is None else self._pending_state
        else:
            state = (self._generator.get_state(), self._generator.device.type)
        torch.save({"seed": self.seed, "state": state}, path)

    @mark_as_loader
    def _load(self, path, end_of_epoch=False):
        del end_of_epoch
        saved = torch.load(path, map_location="cpu", weights_only=False)
        self.seed = saved["seed"]
        self._generator = None
        self._pending_state = saved["state"]
