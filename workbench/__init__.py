"""The browser workbench (Panel app)."""
