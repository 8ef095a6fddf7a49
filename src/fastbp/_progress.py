"""A tqdm progress bar over epochs for long work (fit(progress=True), the CLI).

tqdm decides by itself to stay quiet when stderr is not a terminal
(`disable=None`), so logs and pipes get no bar. Without tqdm, no bar.
"""
import sys


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix(self, **kw):
        pass

    def write(self, text):
        print(text, flush=True)

    def close(self):
        pass


def bar(total, enabled, desc="fit", unit="epoch"):
    """A bar of `total` steps if `enabled` and stderr is a terminal, else a no-op."""
    if not enabled or sys.stderr is None:  # pythonw and some services have no stderr
        return _NoBar()
    try:
        from tqdm.auto import tqdm
        return tqdm(total=total, desc=desc, unit=unit, disable=None, leave=False,
                    dynamic_ncols=True)
    except Exception:  # no tqdm, or a stderr it cannot use: no bar, never a failed fit
        return _NoBar()
