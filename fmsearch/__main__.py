"""`python -m fmsearch` runs the `fmsearch` command."""

from fmsearch.cli import main

if __name__ == "__main__":
    main()
