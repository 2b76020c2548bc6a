"""Browser tests: the fixtures (`browser`, `http_cookies`, `screenshot_dir`, `PHONE`) live in
tests/conftest.py, shared with the clerk admin's browser test."""
