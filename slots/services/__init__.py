"""Write use cases of the slots app, one function per use case (see STYLE.md)."""
