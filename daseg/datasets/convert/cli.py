"""What the converters share: path checks, split files and the error convention of their command lines
(the options themselves are tools/convert_datasets/options.py's, so that --help loads no package)."""
import os.path as osp
import sys

from ...errors import UserError


def require_dir(path, what, expected):
    """Raise `UserError` unless `path` is a folder.

    Args:
        path (str): Folder to check.
        what (str): What the folder is, e.g. 'GTA root'.
        expected (str): What it should contain, for the message.
    """
    if not osp.isdir(path):
        raise UserError(f"{what} '{path}' does not exist; expected {expected}")


def read_split_file(path):
    """Read a split file: one stem per line, blank lines ignored.

    Args:
        path (str): Text file.

    Returns:
        list[str]: The stems.
    """
    if not osp.isfile(path):
        raise UserError(f"split file '{path}' does not exist; expected a text file with one stem per line")
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


def run_cli(convert, args):
    """Run `convert(args)`; a `UserError` becomes one 'error: ...' line on stderr and exit status 2.

    Args:
        convert (callable): The converter, taking the parsed arguments.
        args (argparse.Namespace): Parsed arguments; `args.nproc` must be at least 1.

    Returns:
        int: Exit status.
    """
    try:
        if args.nproc < 1:
            raise UserError(f'--nproc must be at least 1, got {args.nproc}')
        convert(args)
    except UserError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0
