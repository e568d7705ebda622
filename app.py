"""Serve the workbench: ``python app.py`` (binds 127.0.0.1)."""
import panel as pn


def main():
    page = pn.pane.Markdown("# Workbench\nThe browser editor lands with the workbench issue; "
                            "the Python API (`simulations`) works now.")
    pn.serve(page, address="127.0.0.1", port=5006, show=False, title="Workbench")


if __name__ == "__main__":
    main()
