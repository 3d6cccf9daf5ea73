"""One-line summaries in place of mmengine's per-tensor and per-hook dumps, and a way to drop known noise.

mmengine logs one line per parameter and setting when it builds an optimiser with a ``paramwise_cfg`` (about
1,100 for a DAFormer MiT-B5), one warning per frozen tensor (the whole EMA teacher), three lines per tensor after
``init_weights`` (also when ``load_from`` replaces them all next), the hooks of every stage (70 lines) and two
deprecation warnings of its own ``FileClient``, which nothing here uses. The runner logs one line for each.
"""
import contextlib
import logging

from mmengine.logging import MMLogger
from mmengine.runner.priority import Priority, get_priority


# mmengine builds a FileClient, which nothing here uses, when a checkpoint hook starts and at every save.
FILE_CLIENT_NOTICES = ('"FileClient" will be deprecated', '"HardDiskBackend" is the alias')


@contextlib.contextmanager
def dropped_records(*fragments):
    """Within the context, the current mmengine logger drops the records whose message holds one of
    ``fragments``."""
    logger = MMLogger.get_current_instance()

    def keep(record):
        message = str(record.msg)
        return not any(fragment in message for fragment in fragments)

    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


def log_info(message: str) -> None:
    MMLogger.get_current_instance().log(logging.INFO, message)


def _count(n: int) -> str:
    return f'{n / 1e6:.2f}M' if n >= 1e5 else str(n)


def param_groups_summary(optimizer, model) -> str:
    """``'AdamW over 208 trainable tensors (3.72M values) in 4 groups: lr 6e-05 wd 0.01 (120 tensors), ...;
    208 frozen tensors not optimised'``."""
    groups = optimizer.param_groups
    tensors = sum(len(g['params']) for g in groups)
    values = sum(p.numel() for g in groups for p in g['params'])
    parts = [f"lr {g['lr']:g} wd {g.get('weight_decay', 0):g} ({len(g['params'])} tensors)" for g in groups]
    frozen = sum(1 for p in model.parameters() if not p.requires_grad)
    return (f'optimiser {type(optimizer).__name__} over {tensors} trainable tensors ({_count(values)} values) in '
            f'{len(groups)} group(s): {", ".join(parts)}; {frozen} frozen tensors not optimised')


def init_summary(model) -> str:
    """How ``init_weights`` left the parameters, counted by mmengine's per-tensor note (read from the shared
    ``_params_init_info`` that mmengine keeps during ``init_weights``)."""
    notes = {}
    for param in model.parameters():
        note = ' '.join(model._params_init_info[param]['init_info'].split())
        notes[note] = notes.get(note, 0) + 1
    return 'init_weights: ' + '; '.join(f'{n} tensors: {note}' for note, n in notes.items())


def _priority(hook) -> str:
    try:
        return Priority(get_priority(hook.priority)).name
    except ValueError:  # a number between the named priorities
        return str(hook.priority)


def hooks_summary(hooks) -> str:
    """The hooks in execution order with their priorities, on one line."""
    return ', '.join(f'{type(hook).__name__} ({_priority(hook)})' for hook in hooks)
