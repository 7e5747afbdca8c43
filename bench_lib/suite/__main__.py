"""``python -m bench_lib.suite``: the same command as ``bench-lib suite``."""

if __name__ == "__main__":
    import os
    import sys

    os.environ.setdefault("OUTDATED_IGNORE", "1")
    from bench_lib.suite import main

    sys.exit(main())
