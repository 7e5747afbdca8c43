"""``python -m bench_lib.data``: the same command as ``bench-lib data``
(:mod:`bench_lib.cli.data`)."""

if __name__ == "__main__":
    import sys

    from bench_lib.cli.data import main

    sys.exit(main())
