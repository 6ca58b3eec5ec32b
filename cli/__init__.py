"""The terminal front end: command bodies and progress display (main.py only parses and maps errors)."""
