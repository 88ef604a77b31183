"""Example apps (``streamwise dev`` serves ``examples/app.py``)."""
