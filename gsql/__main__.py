"""Run the command line as `python -m gsql`."""

from gsql.cli import main

if __name__ == "__main__":
    main()
