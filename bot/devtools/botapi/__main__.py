"""``python -m bot.devtools.botapi``: run the stand-in on its own (see standalone.py)."""

from .standalone import main

main()
