"""Serve the workbench: ``python app.py [--port 5006]``, then open the printed address
(the same as the installed ``workbench`` command, see workbench/__main__.py)."""
import sys

from workbench.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
