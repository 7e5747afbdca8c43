"""``python -m bench_lib.suite``: the same command as ``bench-lib suite``."""

if __name__ == "__main__":  # bench_lib's import has set OUTDATED_IGNORE (ogb's version check)
    import sys

    from bench_lib.suite import main

    sys.exit(main())
