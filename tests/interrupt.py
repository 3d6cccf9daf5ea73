"""A training run interrupted at a chosen iteration, as a kill after the checkpoint before it."""


def interrupt_at(monkeypatch, cls, call):
    """Make ``cls.train_step`` raise KeyboardInterrupt at its ``call``-th call; returns the real ``train_step``
    (``monkeypatch.setattr(cls, 'train_step', real)`` runs normally again)."""
    real_step = cls.train_step
    calls = []

    def dies(self, data, optim_wrapper):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return real_step(self, data, optim_wrapper)

    monkeypatch.setattr(cls, 'train_step', dies)
    return real_step
